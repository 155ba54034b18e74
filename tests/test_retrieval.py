from datetime import datetime, timezone

import pytest

from copilot.retrieve import fuse
from copilot.runtime import Copilot
from copilot.text import analyse, analyse_query, detect_language
from copilot.types import MemberRecord, MessageRecord


def m(i: str, text: str, **kw) -> MessageRecord:
    base = {"source_id": i, "author": "u1", "created_at": datetime(2026, 10, 1, tzinfo=timezone.utc), "text": text}
    return MessageRecord(**(base | kw))


@pytest.fixture(scope="module")
def chroma_url(tmp_path_factory):
    from tests.chroma_server import CHROMA, ChromaServer, free_port
    from tests.conftest import missing

    if not CHROMA.exists():
        missing("the chroma CLI is not installed")
    server = ChromaServer(tmp_path_factory.mktemp("chroma"), free_port()).start()
    yield f"http://127.0.0.1:{server.port}"
    server.stop()


@pytest.fixture(params=["embedded", "server"])
def copilot(request, settings):
    """Every retrieval test runs against the embedded PersistentClient and a Chroma server via HttpClient."""
    from copilot.embed import HashEmbedder

    if request.param == "server":
        settings = settings.model_copy(update={"chroma_url": request.getfixturevalue("chroma_url")})
    runtime = Copilot(settings, embedder=HashEmbedder())
    runtime.index.drop_brand("acme")  # the server outlives a test: start from an empty collection
    yield runtime
    runtime.close()


@pytest.fixture
def loaded(copilot: Copilot) -> Copilot:
    copilot.store.create_brand("acme", "Acme", "fr")
    copilot.ingestor.ingest("acme", [
        MemberRecord(source_id="u1", name="Ana"),
        m("a", "Ma chaîne saute sur les petits pignons", kind="question", channel="atelier"),
        m("b", "Les chaînes sautent souvent quand la cassette est usée", kind="answer", channel="atelier", author="u2"),
        m("c", "Sortie vélo au bord du canal dimanche", channel="sorties",
          created_at=datetime(2026, 11, 1, tzinfo=timezone.utc)),
        m("d", "How do I fix a puncture on a tubeless tyre?", kind="question", channel="atelier", lang="en"),
        m("e", "Fixing punctures: plug the hole, then top up sealant", kind="answer", channel="atelier", lang="en"),
    ])
    return copilot


def test_french_and_english_stemming():
    assert analyse("Les chaînes usées et réparations", "fr") == analyse("la chaine usée, réparation", "fr")
    assert set(analyse("fixing punctures", "en")) <= set(analyse_query("fix puncture"))
    assert detect_language("Ma chaîne saute sur les petits pignons") == "fr"
    assert detect_language("How do I fix a puncture on my bike?") == "en"


def test_fuse_rewards_agreement():
    # Hand-computed RRF (k = 60): a = 2/61, c = 1/63 + 1/62, b = 1/62, d = 1/63.
    fused = fuse([["a", "b", "c"], ["a", "c", "d"]])
    assert [u for u, _ in fused] == ["a", "c", "b", "d"]
    assert fused[1][1] == pytest.approx(1 / 63 + 1 / 62) and fused[3][1] == pytest.approx(1 / 63)


@pytest.mark.parametrize("mode", ["hybrid", "lexical", "dense"])
def test_search_modes_find_the_relevant_message(loaded: Copilot, mode: str):
    hits = loaded.retriever.search("acme", "chaîne qui saute", limit=3, mode=mode)
    assert hits and hits[0].id == "a"  # the message that says exactly that, before the related answer
    assert all(h.source == "native" for h in hits)


def test_lexical_matches_inflected_forms_across_languages(loaded: Copilot):
    hits = loaded.retriever.search("acme", "punctures tubeless", limit=2, mode="lexical")
    assert {h.id for h in hits} == {"d", "e"}
    assert hits[0].lexical_rank == 1 and hits[0].snippet


def test_filters_apply_to_both_rankings(loaded: Copilot):
    for mode in ("lexical", "dense", "hybrid"):
        hits = loaded.retriever.search("acme", "chaîne saute", mode=mode, filters={"kind": "answer"})
        assert hits and {h.kind for h in hits} == {"answer"}
        hits = loaded.retriever.search("acme", "chaîne vélo", mode=mode, filters={"author": "u2"})
        assert {h.id for h in hits} == {"b"}
        since = datetime(2026, 10, 15, tzinfo=timezone.utc).timestamp()
        hits = loaded.retriever.search("acme", "vélo sortie chaîne", mode=mode, filters={"since": since})
        assert {h.id for h in hits} == {"c"}


def test_deleted_messages_leave_both_indexes(loaded: Copilot):
    loaded.ingestor.ingest("acme", [m("a", "x", deleted=True)])
    for mode in ("lexical", "dense"):
        assert "a" not in {h.id for h in loaded.retriever.search("acme", "chaîne saute pignons", mode=mode)}
    assert loaded.index.count("acme") == 4


def test_lexical_index_persists_and_is_reused(loaded: Copilot):
    first = loaded.retriever.lexical_index("acme")
    loaded.lexical.drop("acme")
    again = loaded.retriever.lexical_index("acme")
    assert again is not first and again.revision == first.revision and again.uids == first.uids


def test_filtered_queries_fall_back_to_exact_filtering(copilot: Copilot, monkeypatch: pytest.MonkeyPatch):
    import copilot.index as index_mod
    import copilot.lexical as lexical_mod

    monkeypatch.setattr(index_mod, "OVERFETCH", 1)
    monkeypatch.setattr(lexical_mod, "OVERFETCH", 1)
    copilot.store.create_brand("acme", "Acme", "fr")
    docs = [m(f"n{i}", f"freins freins freins réglage {i}") for i in range(30)]
    docs.append(m("rare", "un mot sur les freins parmi beaucoup d'autres mots sans rapport", author="u9"))
    copilot.ingestor.ingest("acme", docs)
    lex = copilot.retriever.lexical_index("acme")
    assert [u for u, _ in lex.search("freins", k=2, filters={"author": "u9"})] == ["native:rare"]
    vector = copilot.embedder.embed(["freins freins réglage"])[0]
    assert [u for u, _ in copilot.index.query("acme", vector, k=2, filters={"author": "u9"})] == ["native:rare"]
    assert lex.search("freins", k=2, filters={"author": "nobody"}) == []
