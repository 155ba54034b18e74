"""The real local embedder on the sample brand: what a new user sees first, and the v2 queries written for it
(the SE and IRC parts of the v2 eval need ~5 minutes of embedding: `copilot eval retrieval`, see docs/retrieval.md)."""

from pathlib import Path

import pytest

from copilot.embed import LocalMiniLM
from copilot.evals import compare_retrieval, read_queries
from copilot.fusion import text_key
from copilot.runtime import Copilot
from copilot.sample import SAMPLE_BRAND, SAMPLE_QUERIES, load_sample

V2 = Path(__file__).parent / "data" / "retrieval_queries_v2.jsonl"


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> Copilot:
    from tests.conftest import fresh_settings

    runtime = Copilot(fresh_settings(tmp_path_factory.mktemp("sample")), embedder=LocalMiniLM(batch_size=32))
    load_sample(runtime)
    yield runtime
    runtime.close()


def test_the_readme_query_finds_its_exact_message_first_and_each_text_once(sample: Copilot):
    hits = sample.retriever.search(SAMPLE_BRAND, SAMPLE_QUERIES[0], limit=8)
    rows = {r["source_id"]: r for r in _history() if r.get("type") == "message"}
    assert rows[hits[0].id]["text"].startswith("Ma chaîne saute")  # the message that asks exactly that
    assert hits[0].duplicates >= 1  # it was asked twice, word for word
    assert len({text_key(None, rows[h.id]["text"]) for h in hits if h.id in rows}) == len(hits)


def test_hybrid_beats_each_ranking_alone_on_the_sample_queries(sample: Copilot):
    queries = [q for q in read_queries(V2) if q["corpus"] == "sample"]
    out = compare_retrieval(sample.retriever, SAMPLE_BRAND, queries, fusions=["score"])
    hybrid, lexical, dense = (out["by_mode"][k] for k in ("hybrid:score", "lexical", "dense"))
    # Never below its best part (the +0.03 target is measured on all 74 queries: docs/retrieval.md).
    assert hybrid["recall_at_5"] >= max(lexical["recall_at_5"], dense["recall_at_5"]), out["by_mode"]
    assert hybrid["mrr"] > dense["mrr"], out["by_mode"]
    assert hybrid["by_lang"]["en"]["recall_at_5"] >= dense["by_lang"]["en"]["recall_at_5"]  # English about French
    assert hybrid["by_lang"]["fr"]["recall_at_5"] >= dense["by_lang"]["fr"]["recall_at_5"]


def _history() -> list[dict]:
    import json

    from copilot.sample import KNOWLEDGE

    return [json.loads(line) for line in (KNOWLEDGE / "history.jsonl").read_text(encoding="utf-8").splitlines() if line]
