"""Fusion development on the DEVELOPMENT queries only (v1 + v2): every candidate of the union of both rankings gets
both scores (`Retriever.candidates`), and a learned combiner (logistic regression over per-query normalised
features) is scored by 10-fold cross-validation over the queries, beside dense alone over the same candidates.

    python bench/fusion_fit.py --data-dir D --dump F.json      # COPILOT_EMBEDDER=multilingual|paired as usual

Result (2026-11-28, MiniLM, 120 queries): dense 0.557 recall@5; the combiner 0.536-0.565 by feature set (MRR and
nDCG@10 up 0.01-0.03): no recall gain over dense, so it was not adopted. The product's fusions are compared by
`bench/retrieval_eval.py`.

Never run this on the v3 test set: its queries are for one held-out measurement per method
(`bench/retrieval_eval.py`), not for choosing parameters.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import ROOT  # noqa: E402
from bench.retrieval_eval import load_brands  # noqa: E402
from copilot.evals import rank_metrics, read_queries  # noqa: E402
from copilot.runtime import Copilot  # noqa: E402
from copilot.settings import Settings  # noqa: E402

DEV = ("retrieval_queries.jsonl", "retrieval_queries_v2.jsonl")


def dump(runtime: Copilot, brands: dict[str, str], queries: list[dict]) -> list[dict]:
    """Per query: each candidate group's features (as `Retriever.candidates` computes them) and its source ids."""
    out = []
    runtime.retriever.fusion = "union"  # the fusion for which the candidates get both scores
    for q in queries:
        brand = brands[q.get("corpus", "se")]
        pool = runtime.retriever.candidates(brand, q["query"], depth=40, filters={})
        lex_rank = {k: i for i, k in enumerate(pool.lex.keys)}
        dense_rank = {k: i for i, k in enumerate(pool.den.keys)}
        lex_score = dict(zip(pool.lex.keys, pool.lex.scores))
        cands = [{"ids": [pool.rows[u].source_id for u in uids], "cos": pool.similarity.get(key),
                  "share": pool.share.get(key, 0.0), "bm25": lex_score.get(key), "lex_rank": lex_rank.get(key),
                  "dense_rank": dense_rank.get(key)} for key, uids in pool.groups.items()]
        out.append({"query": q["query"], "lang": q.get("lang", "en"), "corpus": q.get("corpus", "se"),
                    "groups": q["groups"], "coverage": pool.lexical.coverage, "words": len(pool.lexical.weights),
                    "candidates": cands})
    return out


def features(q: dict) -> np.ndarray:
    """Per candidate: cosine minus the query's best, z-scored cosine, keyword share, holds every word, BM25 / best."""
    cos = np.array([c["cos"] for c in q["candidates"]], dtype=float)
    share = np.array([c["share"] for c in q["candidates"]], dtype=float)
    bm25 = np.array([c["bm25"] or 0.0 for c in q["candidates"]], dtype=float)
    z = (cos - cos.mean()) / (cos.std() or 1.0)
    complete = (share >= 0.999) & (q["words"] >= 2)
    return np.stack([cos - cos.max(), z, share, complete, bm25 / (bm25.max() or 1.0)], axis=1)


def labels(q: dict) -> np.ndarray:
    relevant = {x for g in q["groups"] for x in g}
    return np.array([bool(set(c["ids"]) & relevant) for c in q["candidates"]], dtype=int)


def metrics(rows: list[dict], scores: list[np.ndarray]) -> dict[str, float]:
    """recall@5, MRR, nDCG@10 of each query's candidates ranked by `scores`, overall and recall@5 per language."""
    out: dict[str, list[float]] = {}
    for q, s in zip(rows, scores):
        order = np.argsort(-s, kind="stable")[:10]
        m = rank_metrics([set(q["candidates"][i]["ids"]) for i in order], q["groups"])
        for key, value in m.items():
            out.setdefault(key, []).append(value)
        out.setdefault(f"recall_at_5_{q['lang']}", []).append(m["recall_at_5"])
    return {key: round(float(np.mean(v)), 4) for key, v in out.items()}


def cross_validated(rows: list[dict], columns: list[int], *, folds: int = 10) -> list[np.ndarray]:
    """Each query scored by a combiner fitted on the other folds' queries."""
    from sklearn.linear_model import LogisticRegression

    order = np.random.RandomState(0).permutation(len(rows))
    scores: list[np.ndarray] = [np.zeros(0)] * len(rows)
    for f in range(folds):
        test = set(order[f::folds].tolist())
        train = [i for i in range(len(rows)) if i not in test]
        model = LogisticRegression(max_iter=2000, class_weight="balanced").fit(
            np.concatenate([features(rows[i])[:, columns] for i in train]),
            np.concatenate([labels(rows[i]) for i in train]))
        for i in test:
            scores[i] = model.decision_function(features(rows[i])[:, columns])
    return scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", type=Path, default=Path(tempfile.gettempdir()) / "copilot-retrieval-eval")
    parser.add_argument("--dump", type=Path, required=True)
    args = parser.parse_args()
    queries = [q for name in DEV for q in read_queries(ROOT / "tests" / "data" / name)]
    runtime = Copilot(Settings(env="test", data_dir=args.data_dir))  # type: ignore[call-arg]
    try:
        rows = dump(runtime, load_brands(runtime), queries)
    finally:
        runtime.close()
    args.dump.write_text(json.dumps({"embedder": runtime.embedder.name, "queries": rows}))
    rows = [q for q in rows if q["candidates"]]
    print("dense over the candidates", metrics(rows, [np.array([c["cos"] for c in q["candidates"]]) for q in rows]))
    for columns in ([0, 2], [0, 1, 2], [0, 1, 2, 3], [0, 1, 2, 3, 4]):
        print("combiner", columns, metrics(rows, cross_validated(rows, columns)))


if __name__ == "__main__":
    main()
