"""Labelled retrieval queries against the three evaluation brands, every mode and fusion side by side.

    python bench/retrieval_eval.py tests/data/retrieval_queries_v3.jsonl --name retrieval_eval_v3 [--data-dir D]

The brands are the shared Stack Exchange (`se`) and IRC (`irc`) dev histories and the sample brand (`sample`), each
ingested once with the local MiniLM embedder into `--data-dir` (default: a folder in the temp dir, reused by the next
run: embedding the ~7,700 messages takes 5-15 minutes on this 2-core machine). The result goes to
`bench/results/<name>.json`, with the commit measured and the machine's load; `copilot eval retrieval` prints the
same numbers for brands loaded by hand (docs/retrieval.md).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import ROOT, SHARED, write_result  # noqa: E402
from copilot.evals import compare_retrieval, evaluate_retrieval, rank_metrics, read_queries  # noqa: E402
from copilot.fusion import thread_neighbours, with_context, with_evidence  # noqa: E402
from copilot.runtime import Copilot  # noqa: E402
from copilot.sample import SAMPLE_BRAND, load_sample  # noqa: E402
from copilot.settings import Settings  # noqa: E402

HISTORIES = {"se": ("se-eval", ["community_se_history_meta_en/users.jsonl", "community_se_history_meta_en/messages_dev.jsonl"]),
             "irc": ("irc-eval", ["community_irc_duraspace_2016_en/messages_dev.jsonl"])}


def load_brands(runtime: Copilot) -> dict[str, str]:
    """corpus -> brand id, ingesting each brand the data dir does not hold yet."""
    brands = {"sample": SAMPLE_BRAND}
    for corpus, (brand, files) in HISTORIES.items():
        if runtime.store.find_brand(brand) is None:
            runtime.store.create_brand(brand, brand, "en")
            for name in files:
                runtime.ingest_file(brand, SHARED / name)
        brands[corpus] = brand
    if runtime.store.find_brand(SAMPLE_BRAND) is None:
        load_sample(runtime)
    return brands


def margin_interval(runtime: Copilot, brands: dict[str, str], queries: list[dict], *, resamples: int = 2000,
                    seed: int = 0) -> dict[str, float]:
    """The default hybrid's recall@5 minus dense's, per query, with a 95 % bootstrap interval over the queries:
    how far 70-80 labelled queries can tell one ranking from the other."""
    import random

    retriever = runtime.retriever
    recall: dict[str, list[float]] = {}
    for mode in ("hybrid", "dense"):
        retriever.floor = mode == "hybrid"
        recall[mode] = [rank_metrics([{h.id, *h.duplicate_ids} for h in retriever.search(
            brands[q["corpus"]], q["query"], limit=10, mode=mode)], q["groups"])["recall_at_5"] for q in queries]
    retriever.floor = True
    diffs = [h - d for h, d in zip(recall["hybrid"], recall["dense"])]
    rng = random.Random(seed)
    means = sorted(sum(rng.choices(diffs, k=len(diffs))) / len(diffs) for _ in range(resamples))
    return {"mean": round(sum(diffs) / len(diffs), 4), "low": round(means[int(0.025 * resamples)], 4),
            "high": round(means[int(0.975 * resamples)], 4), "queries_better": sum(d > 0 for d in diffs),
            "queries_worse": sum(d < 0 for d in diffs)}


def context_ablation(runtime: Copilot, brands: dict[str, str], queries: list[dict]) -> dict[str, Any]:
    """Where the thread-context step's gain comes from: the default hybrid without it, and the dense ranking with it
    (each dense hit plus `CONTEXT_SHARE` of its best thread neighbour's normalised similarity, then the floor)."""
    retriever = runtime.retriever
    retriever.context = False
    try:
        without = evaluate_retrieval(retriever, brands, queries, mode="hybrid")
    finally:
        retriever.context = True
    rows = []
    for q in queries:
        pool = retriever.candidates(brands[q["corpus"]], q["query"], depth=40, filters={}, need=10, mode="dense")
        fused, _ = with_context(list(zip(pool.den.keys, pool.den.norm)), thread_neighbours(pool.rows, pool.groups))
        fused = with_evidence(fused, pool.lex, pool.den)[:10]
        rows.append({**rank_metrics([{pool.rows[u].source_id for u in pool.groups[k]} for k, _ in fused],
                                    q["groups"]), "lang": q.get("lang", "en")})
    dense = {key: round(sum(r[key] for r in rows) / len(rows), 4) for key in ("recall_at_5", "mrr", "ndcg_at_10")}
    for lang in sorted({r["lang"] for r in rows}):
        dense[f"recall_at_5_{lang}"] = round(sum(r["recall_at_5"] for r in rows if r["lang"] == lang)
                                             / sum(r["lang"] == lang for r in rows), 4)
    return {"hybrid_without_context": {k: without[k] for k in ("recall_at_5", "mrr", "ndcg_at_10", "by_lang")},
            "dense_with_context": dense}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("queries", type=Path)
    parser.add_argument("--name", required=True, help="bench/results/<name>.json")
    parser.add_argument("--data-dir", type=Path, default=Path(tempfile.gettempdir()) / "copilot-retrieval-eval")
    parser.add_argument("--corpus", default="se", choices=["se", "irc", "sample"],
                        help="the corpus of rows that name none (the 46 old queries are about the SE history)")
    parser.add_argument("--note", default="", help="what this run is (e.g. the first measurement on unseen queries)")
    args = parser.parse_args()
    queries = [{"corpus": args.corpus, **q} for q in read_queries(args.queries)]
    runtime = Copilot(Settings(env="test", data_dir=args.data_dir))  # type: ignore[call-arg]
    try:
        brands = load_brands(runtime)
        load_start = round(os.getloadavg()[0], 2)
        out = compare_retrieval(runtime.retriever, brands, queries)
        out["hybrid_minus_dense_recall_at_5_ci95"] = margin_interval(runtime, brands, queries)
        out["context_ablation"] = context_ablation(runtime, brands, queries)
    finally:
        runtime.close()
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout
    write_result(args.name, {"queries_file": str(args.queries), "queries": len(queries), "brands": brands,
                             "embedder": runtime.embedder.name, "commit": commit.strip(), "note": args.note,
                             "load_avg_1m_at_start": load_start, "load_avg_1m_at_end": round(os.getloadavg()[0], 2),
                             **out})


if __name__ == "__main__":
    main()
