"""Keyword search on SQLite (FTS5) against PostgreSQL (full-text search): the same brand, the same queries, what differs.

    python bench/keyword_parity.py --database-url postgresql+psycopg://user@host:port/db   # a throwaway database

The sample brand is loaded into a fresh SQLite store and into the given PostgreSQL database (its tables are dropped
first), with the deterministic test embedder (only the keyword side is compared). Queries: the development queries
about the sample brand (v2 and v3) and a few short ones. For each, the keyword top 5, the query's coverage and each
word's weight, and the default hybrid's top 5 are compared; the result goes to `bench/results/keyword_parity.json`.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import ROOT, write_result  # noqa: E402
from copilot.embed import HashEmbedder  # noqa: E402
from copilot.evals import read_queries  # noqa: E402
from copilot.runtime import Copilot  # noqa: E402
from copilot.sample import SAMPLE_BRAND, load_sample  # noqa: E402
from copilot.settings import Settings  # noqa: E402

SHORT = ["chaîne qui saute", "tubeless", "pneu crevé", "l'atelier", "vélo électrique batterie", "butees derailleur"]


def ranked(database_url: str | None, queries: list[str]) -> dict[str, dict[str, Any]]:
    """Per query: the keyword top 5 with matched words, coverage, word weights, and the hybrid top 5."""
    settings = Settings(env="test", data_dir=Path(tempfile.mkdtemp()),  # type: ignore[call-arg]
                        **({"database_url": database_url} if database_url else {}))
    if database_url:
        from tests.conftest import _reset_database

        _reset_database(database_url)
    runtime = Copilot(settings, embedder=HashEmbedder())
    try:
        load_sample(runtime)
        out = {}
        for q in queries:
            lexical = runtime.keywords.explained(SAMPLE_BRAND, q, k=10)
            out[q] = {"top5": [[u, list(w)] for u, _, w in lexical.ranked[:5]], "coverage": round(lexical.coverage, 3),
                      "weights": {w: round(v, 3) for w, v in lexical.weights.items()},
                      "hybrid_top5": [h.id for h in runtime.retriever.search(SAMPLE_BRAND, q, limit=5)]}
        return out
    finally:
        runtime.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", required=True, help="a PostgreSQL database whose tables may be dropped")
    args = parser.parse_args()
    queries = [q["query"] for name in ("retrieval_queries_v2.jsonl", "retrieval_queries_v3.jsonl")
               for q in read_queries(ROOT / "tests" / "data" / name) if q.get("corpus") == "sample"] + SHORT
    sqlite, pg = ranked(None, queries), ranked(args.database_url, queries)
    ids = lambda r: [u for u, _ in r["top5"]]  # noqa: E731
    differ = {q: {"sqlite": sqlite[q], "postgresql": pg[q]} for q in queries
              if ids(sqlite[q]) != ids(pg[q]) or sqlite[q]["coverage"] != pg[q]["coverage"]}
    write_result("keyword_parity", {
        "brand": SAMPLE_BRAND, "queries": len(queries),
        "same_keyword_top5": sum(ids(sqlite[q]) == ids(pg[q]) for q in queries),
        "same_keyword_top5_as_sets": sum(set(ids(sqlite[q])) == set(ids(pg[q])) for q in queries),
        "same_coverage": sum(sqlite[q]["coverage"] == pg[q]["coverage"] for q in queries),
        "same_hybrid_top5": sum(sqlite[q]["hybrid_top5"] == pg[q]["hybrid_top5"] for q in queries),
        "differences": differ})


if __name__ == "__main__":
    main()
