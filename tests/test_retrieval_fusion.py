"""Hybrid fusion (issue 14): evidence weights, copies collapsed, relevance floor, why a hit matched, the v2 eval."""

from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest

from copilot.errors import InvalidInput
from copilot.evals import rank_metrics, read_queries
from copilot.lexical import LexicalResult
from copilot.fusion import Ranking, evidence, fuse_scores, text_key
from copilot.runtime import Copilot
from copilot.types import MessageRecord

V2 = Path(__file__).parent / "data" / "retrieval_queries_v2.jsonl"


def m(i: str, text: str, days: int = 0, **kw) -> MessageRecord:
    created = datetime(2026, 10, 1, tzinfo=timezone.utc) + timedelta(days=days)
    return MessageRecord(**({"source_id": i, "author": "u1", "created_at": created, "text": text} | kw))


@pytest.fixture
def acme(copilot: Copilot) -> Copilot:
    from copilot.embed import HashEmbedder

    runtime = Copilot(copilot.settings, embedder=HashEmbedder())
    runtime.store.create_brand("acme", "Acme", "fr")
    copy = "Ma chaîne saute sur les petits pignons, une idée ?"
    runtime.ingestor.ingest("acme", [
        m("q1", copy, kind="question"),
        *[m(f"q1-copy{i}", copy.upper().replace(",", " ,"), days=i + 1, kind="question") for i in range(5)],
        m("a1", "Les chaînes sautent souvent quand la cassette est usée", kind="answer"),
        m("w1", "Parfait, merci Inès.", kind="comment"),
        m("w2", "Sortie au bord du canal dimanche matin", kind="post"),
        m("e1", "How do I fix a puncture on a tubeless tyre?", kind="question", lang="en"),
    ])
    yield runtime
    runtime.close()


def test_copies_of_one_text_are_one_hit_that_counts_the_others(acme: Copilot):
    hits = acme.retriever.search("acme", "chaîne qui saute", limit=8)
    ids = [h.id for h in hits]
    assert ids[0] == "q1" and not any(i.startswith("q1-copy") for i in ids)  # the earliest copy stands for all
    assert sorted(hits[0].duplicate_ids) == [f"q1-copy{i}" for i in range(5)] and hits[0].duplicates == 5
    assert len({text_key(None, h.snippet) for h in hits}) == len(hits)


def test_each_hit_says_why_it_matched(acme: Copilot):
    hit = acme.retriever.search("acme", "chaîne qui saute", limit=3)[0]
    assert set(hit.matched_terms) == {"chaîne", "saute"}  # the query's words, not stems
    assert hit.lexical_score and hit.lexical_score > 0 and hit.lexical_rank == 1
    assert hit.dense_similarity is not None and -1.0 <= hit.dense_similarity <= 1.0


def test_a_search_returns_fewer_results_than_the_limit_rather_than_noise(acme: Copilot):
    hits = acme.retriever.search("acme", "chaîne qui saute", limit=10)
    assert 2 <= len(hits) < 5  # 10 messages, 5 distinct texts: the unrelated ones are left out
    assert "w1" not in {h.id for h in hits}  # "Parfait, merci Inès." shares nothing with the question
    everything = type(acme.retriever)(acme.store, acme.index, acme.embedder, acme.keywords, floor=False)
    assert len(everything.search("acme", "chaîne qui saute", limit=10)) == 5  # the floor, not the collapse


def test_a_complete_keyword_match_comes_first(acme: Copilot):
    # The answer holds 'chaîne' (and 'saut' stems only via 'sautent'): the question that holds both words leads.
    assert acme.retriever.search("acme", "chaîne saute pignons", limit=3)[0].id == "q1"


def test_keywords_do_not_veto_a_query_whose_words_the_brand_never_uses(acme: Copilot):
    lexical = acme.keywords.explained("acme", "zygomorphe xylophone", k=10)
    assert lexical.coverage == 0.0 and set(lexical.missing) == {"zygomorphe", "xylophone"}
    half = acme.keywords.explained("acme", "chaîne xylophone", k=10)
    assert 0.0 < half.coverage < 1.0 and half.missing == ("xylophone",)
    assert acme.keywords.explained("acme", "chaîne saute", k=10).coverage == 1.0


def test_evidence_weights_follow_coverage_and_dense_spread():
    lex_full, dense_steep = evidence(1.0, [0.8, 0.7, 0.6, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5])
    lex_none, dense_flat = evidence(0.0, [0.5] * 10)
    assert lex_full == pytest.approx(0.4) and dense_steep == 1.0  # 0.3 above the tenth: full weight
    assert lex_none == dense_flat == 0.05  # nothing to tell: the minimum weight, never silenced completely
    assert evidence(0.25, [])[0] == pytest.approx(0.2)  # sqrt(0.25) * 0.4


def test_score_fusion_adds_weighted_normalised_scores():
    lex = Ranking(["a", "b"], [3.0, 1.0], norm=[1.0, 0.5], weight=0.4)
    den = Ranking(["b", "c"], [0.7, 0.5], norm=[1.0, 0.0], weight=1.0)
    fused = fuse_scores([lex, den])
    assert [k for k, _ in fused] == ["b", "a", "c"]
    assert [s for _, s in fused] == pytest.approx([0.4 * 0.5 + 1.0, 0.4, 0.0])


def test_lexical_share_weighs_words_by_information():
    result = LexicalResult(weights={"chaîne": 1.0, "saute": 3.0})
    assert result.share(("saute",)) == pytest.approx(0.75) and result.share(()) == 0.0


def test_rank_metrics_count_a_group_of_copies_once():
    groups = [["x", "x-copy"], ["y"]]
    shown = [{"n1"}, {"x-copy"}, {"n2"}, {"n3"}, {"n4"}, {"y"}]
    out = rank_metrics(shown, groups)
    assert out["recall_at_5"] == 0.5 and out["mrr"] == 0.5  # y is 6th: outside the top 5
    import math
    assert out["ndcg_at_10"] == pytest.approx((1 / math.log2(3) + 1 / math.log2(7)) / (1 + 1 / math.log2(3)))
    assert rank_metrics([{"x"}, {"x-copy"}], groups)["recall_at_5"] == 0.5  # two copies: still one group


def test_the_v2_queries_are_many_varied_and_cross_languages():
    rows = read_queries(V2)
    assert len(rows) >= 60
    assert {r["corpus"] for r in rows} == {"se", "irc", "sample"}
    crossing = [r for r in rows if r["lang"] != r["doc_lang"]]
    assert len(crossing) * 3 >= len(rows)  # a third asks in one language about posts in the other
    assert {r["style"] for r in rows} >= {"paraphrase", "typo", "short"}
    old = {q["query"] for q in read_queries(V2.parent / "retrieval_queries.jsonl")}
    assert not old & {r["query"] for r in rows}  # kept apart from the 46 word-overlap queries


def test_the_v3_test_set_is_unseen_varied_and_labelled_with_ids_that_exist():
    """v3 (written outside the project, committed before any measurement) asks what the other sets do not, in both
    languages, and every relevant id is a message of its corpus."""
    import json

    from copilot.sample import KNOWLEDGE
    from tests.conftest import shared

    rows = read_queries(V2.parent / "retrieval_queries_v3.jsonl")
    assert len(rows) >= 60 and {r["corpus"] for r in rows} == {"se", "irc", "sample"}
    assert sum(r["lang"] != r["doc_lang"] for r in rows) * 3 >= len(rows)
    assert {r["lang"] for r in rows} == {"en", "fr"}
    earlier = {q["query"] for name in ("retrieval_queries.jsonl", "retrieval_queries_v2.jsonl")
               for q in read_queries(V2.parent / name)}
    assert not earlier & {r["query"] for r in rows}
    files = {"se": shared("community_se_history_meta_en", "messages_dev.jsonl"),
             "irc": shared("community_irc_duraspace_2016_en", "messages_dev.jsonl"),
             "sample": KNOWLEDGE / "history.jsonl"}
    ids = {}
    for corpus, path in files.items():
        lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
        ids[corpus] = {x.get("id") or x.get("source_id") for x in lines if x.get("type", "message") == "message"}
    unknown = [(r["query"], x) for r in rows for g in r["groups"] for x in g if x not in ids[r["corpus"]]]
    assert not unknown, unknown[:5]


def test_a_bad_query_row_names_its_line(tmp_path: Path):
    bad = tmp_path / "q.jsonl"
    bad.write_text('{"query": "ok", "relevant_ids": ["a"]}\n{"query": "x", "relevant_ids": [["a", 3]]}\n')
    with pytest.raises(InvalidInput, match="q.jsonl:2"):
        read_queries(bad)


def test_filtered_dense_search_filters_candidates_in_the_database(copilot: Copilot, monkeypatch: pytest.MonkeyPatch):
    import copilot.retrieve as retrieve

    copilot.store.create_brand("acme", "Acme", "fr")
    docs = [m(f"n{i}", f"réglage des freins numéro {i}", channel="atelier") for i in range(60)]
    docs.append(m("far", "une sortie au bord du canal", channel="sorties", author="u9", kind="question"))
    copilot.ingestor.ingest("acme", docs)
    assert copilot.store.passing_uids("acme", ["native:n1", "native:far", "native:nope"],
                                      {"channel": "sorties"}) == {"native:far"}
    calls = []
    query = copilot.index.query
    monkeypatch.setattr(copilot.index, "query", lambda *a, **kw: calls.append(kw["filters"]) or query(*a, **kw))
    vector = copilot.embedder.embed(["réglage des freins"])[0]
    # A kind filter is not counted on an index: the 10 nearest without a filter, filtered in SQL, miss the far
    # message (twice), then the one message passing it is ranked exactly by its stored vector, never by Chroma's
    # filtered search (which returned nothing about one time in six with 1 message of 61 passing; Chroma 1.5.9).
    monkeypatch.setattr(retrieve, "DENSE_OVERFETCH", (1, 1))
    for _ in range(12):
        assert [u for u, _ in copilot.retriever._dense("acme", vector, 10, {"kind": "question"})] == ["native:far"]
    assert calls == [{}, {}] * 12  # the two over-fetches, never Chroma's filter
    calls.clear()
    # A channel or an author is counted first: one message passes, so it is ranked exactly without any over-fetch.
    for filters in ({"channel": "sorties"}, {"author": "u9"}, {"channel": "sorties", "kind": "question"}):
        assert [u for u, _ in copilot.retriever._dense("acme", vector, 10, filters)] == ["native:far"]
    assert calls == []
    far = copilot.embedder.embed(["une sortie au bord du canal"])[0]
    similarity = copilot.retriever._dense("acme", vector, 10, {"channel": "sorties"})[0][1]
    assert similarity == pytest.approx(float(far @ vector), abs=1e-4)  # the cosine Chroma would give
    assert copilot.retriever._dense("acme", vector, 10, {"channel": "nowhere"}) == []
    calls.clear()
    monkeypatch.setattr(retrieve, "DENSE_OVERFETCH", (10, 50))
    monkeypatch.setattr(retrieve, "EXACT_MAX", 50)  # 60 of the 61 messages pass: too many to rank exactly
    hits = copilot.retriever._dense("acme", vector, 40, {"channel": "atelier"})
    assert len(hits) == 40 and calls == [{}] and all(u.startswith("native:n") for u, _ in hits)  # one over-fetch


def test_a_filter_passing_too_many_messages_for_the_exact_ranking_falls_back(copilot: Copilot,
                                                                              monkeypatch: pytest.MonkeyPatch):
    import copilot.retrieve as retrieve

    copilot.store.create_brand("acme", "Acme", "fr")
    copilot.ingestor.ingest("acme", [m(f"n{i}", f"réglage des freins numéro {i}", channel="atelier") for i in range(30)])
    assert len(copilot.store.filtered_uids("acme", {"channel": "atelier"}, limit=30)) == 30
    assert copilot.store.filtered_uids("acme", {"channel": "atelier"}, limit=29) is None
    monkeypatch.setattr(retrieve, "EXACT_MAX", 5)
    monkeypatch.setattr(retrieve, "DENSE_OVERFETCH", (1, 2))
    calls = []
    query = copilot.index.query
    monkeypatch.setattr(copilot.index, "query", lambda *a, **kw: calls.append((kw["k"], kw["filters"])) or query(*a, **kw))
    vector = copilot.embedder.embed(["réglage des freins"])[0]
    hits = copilot.retriever._dense("acme", vector, 10, {"channel": "atelier"}, need=25)
    assert len(hits) == 10 and calls == [(10, {}), (20, {}), (10, {"channel": "atelier"})]


def test_exact_filtered_ranking_follows_edits_and_deletes(copilot: Copilot):
    """The exact ranking of a selective filter keeps its messages' vectors in memory: an edited message is ranked by
    its new text at once, a deleted one is gone and a new one is there, on the next search."""
    copilot.store.create_brand("acme", "Acme", "fr")
    copilot.ingestor.ingest("acme", [m("a", "réglage des freins à disque", channel="atelier"),
                                     m("b", "une sortie au bord du canal", channel="atelier")])
    query = copilot.embedder.embed(["sortie au bord du canal"])[0]
    dense = lambda: dict(copilot.retriever._dense("acme", query, 10, {"channel": "atelier"}))  # noqa: E731
    old = copilot.embedder.embed(["une sortie au bord du canal"])[0]
    assert dense()["native:b"] == pytest.approx(float(old @ query), abs=1e-4)
    assert copilot.index.cache.size > 0  # kept for the next search
    assert dense()["native:b"] == pytest.approx(float(old @ query), abs=1e-4)
    copilot.ingestor.ingest("acme", [m("b", "changement de pneus tubeless", channel="atelier")])
    new = copilot.embedder.embed(["changement de pneus tubeless"])[0]
    assert dense()["native:b"] == pytest.approx(float(new @ query), abs=1e-4)
    copilot.ingestor.ingest("acme", [m("a", "x", deleted=True), m("c", "sortie au canal", channel="atelier"),
                                     m("d", "sortie au canal", channel="ailleurs")])
    assert set(dense()) == {"native:b", "native:c"}  # what the filter passes now, nothing else


def test_the_vector_cache_holds_known_versions_within_its_size():
    from copilot.index import VectorCache

    cache = VectorCache(max_bytes=3 * 16)  # three 4-dim float32 vectors
    vectors = np.eye(4, dtype=np.float32)
    cache.put("b", ["u1", "u2", "u3", "u4"], vectors, {"u1": "h1", "u2": "h2", "u3": None, "u4": "h4"})
    assert set(cache.get("b", {"u1": "h1", "u2": "h2", "u3": None, "u4": "h4"})) == {"u1", "u2", "u4"}  # u3 pending
    assert cache.get("b", {"u1": "edited"}) == {} and cache.get("other", {"u1": "h1"}) == {}
    cache.put("b", ["u5", "u6"], vectors[:2], {"u5": "h5", "u6": "h6"})
    assert cache.size <= 3 * 16 and set(cache.get("b", {f"u{i}": f"h{i}" for i in range(1, 7)})) == {"u4", "u5", "u6"}
    cache.drop("b", ["u5"])
    assert set(cache.get("b", {"u4": "h4", "u5": "h5"})) == {"u4"}


def test_a_channel_filtered_keyword_search_ranks_like_the_unfiltered_one_within_the_channel(
        copilot: Copilot, monkeypatch: pytest.MonkeyPatch):
    """With a channel or author filter the keyword side scores every match in the filter (not FTS5's top matches of
    the whole brand): the ranking is the unfiltered one restricted to the channel, and so is the broad-filter plan."""
    import copilot.store.keywords as keywords

    copilot.store.create_brand("acme", "Acme", "fr")
    words = ["freins", "disque", "pneu", "chaîne", "dérailleur", "selle"]
    copilot.ingestor.ingest("acme", [m(f"n{i}", " ".join(words[j % 6] for j in range(i, i + 1 + i % 4)),
                                       channel=f"c{i % 3}", author=f"u{i % 5}") for i in range(60)])
    query = "freins disque chaîne"
    everything = [(u, s) for u, s in copilot.keywords.search("acme", query, k=100)]
    channel = {u for u in copilot.store.filtered_uids("acme", {"channel": "c1"}, limit=100)}
    expected = [u for u, _ in everything if u in channel][:10]
    for unranked in (keywords.UNRANKED_MAX, 0):  # 0: every filter takes the ranked plan
        monkeypatch.setattr(keywords, "UNRANKED_MAX", unranked)
        assert [u for u, _ in copilot.keywords.search("acme", query, k=10, filters={"channel": "c1"})] == expected
        authored = copilot.keywords.search("acme", query, k=10, filters={"author": "u2", "channel": "c1"})
        assert authored and all(copilot.store.get_messages("acme", [u])[u].author == "u2" for u, _ in authored)


@pytest.fixture
def workshop(copilot: Copilot) -> Copilot:
    """A question, its answer (which holds one of the question's words, in a longer text) and a thank-you, among
    messages that hold one of the question's words each."""
    from copilot.embed import HashEmbedder

    runtime = Copilot(copilot.settings, embedder=HashEmbedder())
    runtime.store.create_brand("atelier", "Atelier", "fr")
    runtime.ingestor.ingest("atelier", [
        m("q", "Comment régler les butées du dérailleur arrière ?", kind="question"),
        m("a", "Sur ce dérailleur, tourne la vis H d'un quart de tour, puis la vis L, câble détendu, et essaie "
          "toutes les vitesses.", days=1, kind="answer",
          reply_to="q", thread="q"),
        m("t", "Merci beaucoup !", days=2, kind="comment", reply_to="a", thread="q"),
        m("d1", "Mon dérailleur avant est rouillé, je le change ou je le nettoie ?", days=3, kind="question"),
        m("d2", "Les butées de porte du local vélo sont cassées.", days=4, kind="post"),
        m("d3", "Quart de finale du tournoi de baby-foot jeudi.", days=5, kind="post"),
        m("d4", "Arrière-boutique fermée pour inventaire demain.", days=6, kind="post"),
    ])
    yield runtime
    runtime.close()


@pytest.mark.parametrize("fusion", ["score", "rrf"])
def test_an_answer_shares_the_relevance_of_the_question_it_answers(workshop: Copilot, fusion: str):
    retriever = type(workshop.retriever)(workshop.store, workshop.index, workshop.embedder, workshop.keywords,
                                         fusion=fusion)  # type: ignore[arg-type]
    hits = retriever.search("atelier", "régler butées dérailleur", limit=5)
    ids = [h.id for h in hits]
    assert ids[0] == "q" and ids[1] == "a"  # the answer right after its question, above texts as close as it
    assert hits[1].context_id == "q" and hits[0].context_id == "a"  # each says which neighbour lifted it
    assert "t" not in ids  # a thank-you inherits nothing it could show: no evidence of its own, no hit
    retriever.context = False
    assert [h.id for h in retriever.search("atelier", "régler butées dérailleur", limit=5)].index("a") > 1


def test_context_inherits_from_scores_before_it_so_nothing_snowballs_along_a_thread():
    from copilot.fusion import with_context

    links = {"q": {"a"}, "a": {"q", "c"}, "c": {"a"}}
    fused, lifted = with_context([("q", 1.0), ("x", 0.5), ("a", 0.4), ("c", 0.1)], links, share=0.2)
    assert dict(fused) == pytest.approx({"q": 1.08, "a": 0.6, "x": 0.5, "c": 0.18})  # c: 0.2 x a's own 0.4
    assert [k for k, _ in fused] == ["q", "a", "x", "c"] and lifted == {"q": "a", "a": "q", "c": "a"}


def test_a_french_word_typed_without_accents_finds_the_texts_that_spell_it_right(workshop: Copilot):
    # Snowball stems 'butées' to 'but' but 'butees' to 'bute': the SQLite index holds the stems of the accented text.
    # PostgreSQL folds accents before stemming; both backends must match (this file runs in the PostgreSQL leg too).
    lexical = workshop.keywords.explained("atelier", "butees derailleur", k=5)
    assert lexical.coverage == 1.0 and lexical.ranked[0][0] == "native:q"
    assert set(lexical.ranked[0][2]) == {"butees", "derailleur"}


def test_ascii_texts_fold_as_the_pattern_folds_them():
    """The translation-table fold of an ASCII text (the fast path) keys copies exactly as NON_WORD does."""
    import random

    from copilot.fusion import NON_WORD, _fold

    rng = random.Random(7)
    texts = ["".join(map(chr, range(128))), "Snake_case, tabs\tand\nnew lines!!", "  --x--  ", "", "___"]
    texts += ["".join(chr(rng.randrange(128)) for _ in range(rng.randrange(200))) for _ in range(500)]
    for text in texts:
        assert _fold(text) == NON_WORD.sub(" ", text.lower()).strip()
    assert _fold("Crème brûlée_chaude") == "creme brulee chaude"  # the accented path still folds accents
