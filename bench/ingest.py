"""Ingestion of the SE dev history end to end with the real local embedder, against the raw embedder's own
throughput on the same texts in the same run; then a re-ingest of the same data.

Targets: end-to-end >= 0.8 of raw embedder throughput; re-ingest >= 20x faster than the first ingest.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import SHARED, write_result  # noqa: E402
from copilot.embed import LocalMiniLM  # noqa: E402
from copilot.ingest import parse_file  # noqa: E402
from copilot.ingest.pipeline import embed_text  # noqa: E402
from copilot.runtime import Copilot  # noqa: E402
from copilot.settings import Settings  # noqa: E402
from copilot.types import MessageRecord  # noqa: E402


def main() -> None:
    messages = SHARED / "community_se_history_meta_en" / "messages_dev.jsonl"
    users = SHARED / "community_se_history_meta_en" / "users.jsonl"
    records = [r for r in parse_file(messages) if isinstance(r, MessageRecord)]
    texts = [embed_text({"title": r.title, "text": r.text}) for r in records]
    embedder = LocalMiniLM()
    embedder.embed(texts[:64])  # warm-up, same for both measurements

    t0 = time.perf_counter()
    embedder.embed(texts)
    raw_s = time.perf_counter() - t0

    with tempfile.TemporaryDirectory() as tmp:
        copilot = Copilot(Settings(env="test", data_dir=Path(tmp)), embedder=embedder)  # type: ignore[call-arg]
        copilot.store.create_brand("se", "SE", "en")
        t0 = time.perf_counter()
        copilot.ingest_file("se", users)
        first = copilot.ingest_file("se", messages)
        first_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        copilot.ingest_file("se", users)
        again = copilot.ingest_file("se", messages)
        again_s = time.perf_counter() - t0
        copilot.close()

    n = len(texts)
    write_result("ingest", {
        "dataset": "community_se_history_meta_en/messages_dev.jsonl + users.jsonl",
        "messages": n, "embedded_first": first.embedded, "embedded_again": again.embedded,
        "raw_embedder_s": round(raw_s, 2), "raw_embedder_msgs_per_s": round(n / raw_s, 1),
        "first_ingest_s": round(first_s, 2), "first_ingest_msgs_per_s": round(n / first_s, 1),
        "ratio_to_raw": round(raw_s / first_s, 3), "target_ratio_to_raw": 0.8,
        "reingest_s": round(again_s, 3), "reingest_speedup": round(first_s / again_s, 1), "target_reingest_speedup": 20,
    })


if __name__ == "__main__":
    main()
