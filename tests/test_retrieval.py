import threading
from datetime import datetime, timezone

import pytest

from copilot.fusion import fuse
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
        # A kind with a date, and kinds no message has: the kind in the keyword query, the date on its columns.
        hits = loaded.retriever.search("acme", "chaîne puncture", mode=mode, filters={"kind": "question", "until": since})
        assert {h.id for h in hits} == {"a", "d"} if mode != "dense" else {h.kind for h in hits} == {"question"}
        for kind in ("doc", 'an"swer', "answer OR question"):
            assert loaded.retriever.search("acme", "chaîne", mode=mode, filters={"kind": kind}) == []


def test_a_hybrid_search_ranks_its_keyword_side_inline_when_every_worker_is_busy(loaded: Copilot,
                                                                                  monkeypatch: pytest.MonkeyPatch):
    import copilot.retrieve as retrieve

    threads = []
    explained = loaded.keywords.explained
    monkeypatch.setattr(loaded.keywords, "explained",
                        lambda *a, **kw: threads.append(threading.current_thread().name) or explained(*a, **kw))
    ranked = lambda: [(h.id, h.score) for h in loaded.retriever.search("acme", "chaîne saute pignons")]  # noqa: E731
    parallel = ranked()
    for _ in range(retrieve.SIDE_WORKERS):
        assert retrieve._SIDE_SLOTS.acquire(timeout=10)  # a finished side frees its slot just after its result
    try:
        inline = ranked()
    finally:
        for _ in range(retrieve.SIDE_WORKERS):
            retrieve._SIDE_SLOTS.release()
    assert parallel and inline == parallel
    assert threads[0].startswith("keyword-side") and threads[1] == threading.current_thread().name


def test_deleted_messages_leave_both_indexes(loaded: Copilot):
    loaded.ingestor.ingest("acme", [m("a", "x", deleted=True)])
    for mode in ("lexical", "dense"):
        assert "a" not in {h.id for h in loaded.retriever.search("acme", "chaîne saute pignons", mode=mode)}
    assert loaded.index.count("acme") == 4


def test_keyword_search_follows_every_write_without_a_rebuild(loaded: Copilot):
    lexical = lambda q: [h.id for h in loaded.retriever.search("acme", q, mode="lexical")]  # noqa: E731
    seqs = lambda: loaded.store.brand_seqs(["acme"])["acme"]  # noqa: E731
    assert lexical("dynamo") == []  # no message holds the word yet
    loaded.ingestor.ingest("acme", [m("f", "Le moyeu dynamo grésille sous la pluie", channel="atelier")])
    assert lexical("dynamo") == ["f"]  # searchable as soon as the write returned
    loaded.ingestor.ingest("acme", [m("f", "Le phare à LED clignote", channel="atelier")])
    assert lexical("dynamo") == [] and lexical("phares clignotants") == ["f"]  # an edit replaces the entry
    before = seqs()
    loaded.ingestor.ingest("acme", [m("f", "Le phare à LED clignote", channel="atelier", reactions={"👍": 2})])
    after = seqs()
    # A reaction is an analytics change only: the keyword index and the vectors are left alone.
    assert after.analytics_seq > before.analytics_seq and after.lexical_seq == before.lexical_seq
    loaded.ingestor.ingest("acme", [m("f", "x", deleted=True)])
    assert lexical("phare") == [] and seqs().lexical_seq > after.lexical_seq


def test_only_common_terms_document_frequencies_are_remembered(loaded: Copilot, monkeypatch: pytest.MonkeyPatch):
    """A common term's count is reused for a minute (counting it walks every message holding it); a rare one is
    counted by every search, so the weight of a word that few messages hold follows each write."""
    import copilot.store.keywords as keywords

    monkeypatch.setattr(keywords, "DF_CACHE_MIN", 5)
    df = lambda word: max(loaded.store.keyword_hits("acme", word, k=5, filters={}).df.values(), default=0)  # noqa: E731
    assert (df("canal"), df("puncture")) == (1, 2)  # 'puncture' and 'punctures' share a stem
    loaded.ingestor.ingest("acme", [m(f"n{i}", f"le canal et la puncture numéro {i}") for i in range(3)])
    assert (df("canal"), df("puncture")) == (4, 5)  # both were below DF_CACHE_MIN: counted anew
    loaded.ingestor.ingest("acme", [m("n9", "encore le canal, encore une puncture")])
    assert (df("canal"), df("puncture")) == (5, 5)  # 'puncture' (5) is remembered, 'canal' (4) was not
    monkeypatch.setattr(keywords, "STATS_TTL_S", 0.0)
    assert df("puncture") == 6


def test_keyword_queries_are_data_not_syntax(loaded: Copilot):
    for query in ('"chaîne', "chaîne AND NOT saute", "NEAR(chaîne saute)", "chaî*", "^saute", "a:b", "'; DROP"):
        loaded.retriever.search("acme", query, mode="lexical")  # no FTS5 or SQL syntax error reaches the user
    assert loaded.retriever.search("acme", "chaîne OR", mode="lexical")[0].id == "a"


def test_rare_terms_first_ranking_matches_exact_bm25(copilot: Copilot, monkeypatch: pytest.MonkeyPatch):
    import copilot.store.keywords as keywords

    copilot.store.create_brand("acme", "Acme", "fr")
    docs = [m(f"n{i}", f"réglage des freins numéro {i} " + "freins " * (i % 4)) for i in range(60)]
    docs += [m("rare", "un grincement de freins à disque après le réglage", author="u9"),
             m("rare2", "grincement du pédalier, pas des freins")]
    copilot.ingestor.ingest("acme", docs)
    query = "grincement freins réglage"
    exact = copilot.store.keyword_search("acme", query, k=10, filters={})
    monkeypatch.setattr(keywords, "CANDIDATE_DOCS", 5)  # only 'grincement' (2 documents) picks the candidates
    pruned = copilot.store.keyword_search("acme", query, k=10, filters={})
    # The shorter message ranks first (length normalisation); the common terms weigh almost nothing.
    assert [u for u, _ in pruned][:2] == [u for u, _ in exact][:2] == ["native:rare2", "native:rare"]
    assert [s for _, s in pruned][:2] == pytest.approx([s for _, s in exact][:2], rel=1e-6)


def test_filtered_queries_find_rare_matches(copilot: Copilot, monkeypatch: pytest.MonkeyPatch):
    import copilot.index as index_mod
    import copilot.store.keywords as keywords

    monkeypatch.setattr(index_mod, "OVERFETCH", 1)
    monkeypatch.setattr(keywords, "CANDIDATE_DOCS", 3)
    copilot.store.create_brand("acme", "Acme", "fr")
    docs = [m(f"n{i}", f"freins freins freins réglage {i}") for i in range(30)]
    docs.append(m("rare", "un mot sur les freins parmi beaucoup d'autres mots sans rapport", author="u9"))
    copilot.ingestor.ingest("acme", docs)
    search = copilot.keywords.search
    assert [u for u, _ in search("acme", "freins", k=2, filters={"author": "u9"})] == ["native:rare"]
    vector = copilot.embedder.embed(["freins freins réglage"])[0]
    assert [u for u, _ in copilot.index.query("acme", vector, k=2, filters={"author": "u9"})] == ["native:rare"]
    assert search("acme", "freins", k=2, filters={"author": "nobody"}) == []
