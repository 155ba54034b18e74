"""Kinds and channels kept in memory for filtered dense search (issue 14): the database's answer, never a stale one."""

from datetime import datetime, timedelta, timezone

import pytest

from copilot.facets import Facets
from copilot.runtime import Copilot
from copilot.types import MessageRecord

KINDS = ("question", "answer", "comment", "post")
TOPICS = ("réglage des freins", "chaîne qui saute", "pneu tubeless crevé", "sortie au bord du canal")


def m(i: str, text: str, days: int = 0, **kw) -> MessageRecord:
    created = datetime(2026, 10, 1, tzinfo=timezone.utc) + timedelta(days=days)
    return MessageRecord(**({"source_id": i, "author": "u1", "created_at": created, "text": text} | kw))


@pytest.fixture
def shop(copilot: Copilot) -> Copilot:
    copilot.store.create_brand("acme", "Acme", "fr")
    copilot.ingestor.ingest("acme", [m(f"n{i}", f"{TOPICS[i % 4]} numéro {i}", days=i, kind=KINDS[(i * 7) % 4],
                                       channel=("atelier", "sorties", None)[i % 3]) for i in range(80)])
    return copilot


def test_filtered_search_from_memory_ranks_as_the_database_does(shop: Copilot, monkeypatch: pytest.MonkeyPatch):
    import copilot.retrieve as retrieve

    monkeypatch.setattr(retrieve, "DENSE_OVERFETCH", (1, 2, 4))  # every step of the over-fetch is taken
    monkeypatch.setattr(retrieve, "EXACT_MAX", 5)  # a channel passes too many messages to be ranked exactly
    retriever = shop.retriever
    retriever.facets.warm("acme")
    from_memory, from_database = retriever.facets, Facets(shop.store, background=False)  # the latter never builds
    checked: list[int] = []
    passing_uids = shop.store.passing_uids
    monkeypatch.setattr(shop.store, "passing_uids",
                        lambda b, uids, f: checked.append(len(uids)) or passing_uids(b, uids, f))
    filters = [{"kind": k} for k in (*KINDS, "doc")] + [{"channel": "sorties"}, {"channel": "nowhere"},
                                                          {"kind": "answer", "channel": "atelier"}]
    compared = 0
    for topic in TOPICS:
        vector = shop.embedder.embed([topic])[0]
        for f in filters:
            retriever.facets = from_memory
            dense = retriever._dense("acme", vector, 10, f)
            hits = [(h.uid, h.score, h.kind, h.channel) for h in retriever.search("acme", topic, filters=f)]
            assert checked == []  # the map answered alone
            retriever.facets = from_database
            assert dense == retriever._dense("acme", vector, 10, f)
            assert hits == [(h.uid, h.score, h.kind, h.channel) for h in retriever.search("acme", topic, filters=f)]
            assert checked or f == {"channel": "nowhere"}  # none passes: nothing over-fetched
            assert all(h[2] == f.get("kind", h[2]) and h[3] == f.get("channel", h[3]) for h in hits)
            checked.clear()
            compared += len(dense)
    assert compared > 100  # the comparison compared something


def test_a_message_whose_kind_just_changed_is_filtered_by_its_new_kind(shop: Copilot):
    facets = shop.retriever.facets
    facets.warm("acme")
    assert facets.passing("acme", ["native:n0", "native:n1"], {"kind": "question"}) == {"native:n0"}
    shop.ingestor.ingest("acme", [m("n0", f"{TOPICS[0]} numéro 0", kind="answer", channel="atelier"),  # re-kinded
                                  m("n1", "x", deleted=True), m("new", "un nouveau message", kind="question")])
    uids = ["native:n0", "native:n1", "native:new", "native:never"]
    assert facets.passing("acme", uids, {"kind": "question"}) == {"native:new"}
    assert facets.passing("acme", uids, {"kind": "answer"}) == {"native:n0"}
    assert facets.passing("acme", uids, {"kind": "answer"}) == shop.store.passing_uids("acme", uids, {"kind": "answer"})
    vector = shop.embedder.embed([f"{TOPICS[0]} numéro 0"])[0]
    assert "native:n0" in dict(shop.retriever._dense("acme", vector, 10, {"kind": "answer"}))
    assert "native:n0" not in dict(shop.retriever._dense("acme", vector, 10, {"kind": "question"}))
    shop.ingestor.ingest("acme", [m("n0", f"{TOPICS[0]} numéro 0", kind="answer", channel="sorties")])  # moved
    assert facets.passing("acme", uids, {"channel": "sorties"}) == {"native:n0"}
    assert facets.passing("acme", uids, {"kind": "answer", "channel": "atelier"}) == set()


def test_a_map_too_far_behind_lets_the_database_answer_and_is_rebuilt(shop: Copilot, monkeypatch: pytest.MonkeyPatch):
    import copilot.facets as facets_mod

    facets = Facets(shop.store, background=False)
    facets.warm("acme")
    monkeypatch.setattr(facets_mod, "CATCH_UP_MAX", 1)
    shop.ingestor.ingest("acme", [m("n0", f"{TOPICS[0]} numéro 0", kind="answer", channel="atelier"),
                                  m("n4", f"{TOPICS[0]} numéro 4", kind="answer", channel="sorties")])
    uids = ["native:n0", "native:n4", "native:n8"]
    assert facets.passing("acme", uids, {"kind": "answer"}) == {"native:n0", "native:n4"}  # n8 is still a question
    assert "acme" not in facets._maps  # dropped: two changes are more than a request may apply
    facets.warm("acme")
    assert facets.passing("acme", uids, {"kind": "answer"}) == {"native:n0", "native:n4"}


@pytest.mark.parametrize("unranked_max", [1500, 3])  # a channel's matches all re-scored, or FTS5's top ones
def test_keyword_matches_checked_in_memory_rank_as_the_database_does(shop: Copilot, monkeypatch: pytest.MonkeyPatch,
                                                                     unranked_max: int):
    import copilot.store.keywords as keywords

    if shop.store.engine.dialect.name != "sqlite":
        pytest.skip("FTS5 only: PostgreSQL filters in its own query")
    monkeypatch.setattr(keywords, "UNRANKED_MAX", unranked_max)
    monkeypatch.setattr(keywords, "CANDIDATES", 4)  # FTS5's rank order decides which matches are re-scored
    shop.facets.warm("acme")
    answered = []
    checked_matches = keywords._checked_matches
    monkeypatch.setattr(keywords, "_checked_matches",
                        lambda *a, **kw: answered.append(checked_matches(*a, **kw)) or answered[-1])
    found = 0
    for query in (*TOPICS, "numéro", "freins chaîne canal"):
        for f in ({"kind": "answer"}, {"kind": "question"}, {"channel": "sorties"},
                  {"kind": "post", "channel": "atelier"}, {"channel": "nowhere"}):
            check = shop.facets.rows("acme", f)
            assert check is not None
            from_memory = shop.store.keyword_hits("acme", query, k=5, filters=f, rows=check).ranked
            assert from_memory == shop.store.keyword_hits("acme", query, k=5, filters=f).ranked
            found += len(from_memory)
    assert found > 50 and None not in answered  # the comparison compared something, read from memory


def test_keyword_matches_follow_a_kind_change_and_fall_back_on_a_row_the_map_does_not_know(shop: Copilot):
    shop.facets.warm("acme")
    search = lambda f: [u for u, _, _ in shop.keywords.explained("acme", "numéro 0", k=100, filters=f).ranked]  # noqa: E731
    question, answer = {"kind": "question", "channel": "atelier"}, {"kind": "answer", "channel": "atelier"}
    assert "native:n0" in search(question) and "native:n0" not in search(answer)
    shop.ingestor.ingest("acme", [m("n0", f"{TOPICS[0]} numéro 0", kind="answer", channel="atelier")])
    assert "native:n0" in search(answer) and "native:n0" not in search(question)
    check = shop.facets.rows("acme", answer)
    rowid = next(i for i, facet in check.facets.items() if facet == ("answer", "atelier"))
    del check.facets[rowid]  # as if written after the map's last catch-up: the database answers for the query
    assert check.passes(rowid) is None
    assert search(answer) == [u for u, _, _ in shop.store.keyword_hits("acme", "numéro 0", k=100, filters=answer).ranked]
