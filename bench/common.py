"""Helpers shared by the benchmarks: timing stats and JSON results."""

from __future__ import annotations

import json
import os
import platform
import statistics
from pathlib import Path
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("DISABLE_AIOHTTP_TRANSPORT", "True")

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data"
RESULTS = Path(__file__).resolve().parent / "results"


def percentiles(samples_ms: list[float]) -> dict[str, float]:
    """p50/p95/p99/mean of a list of milliseconds."""
    s = sorted(samples_ms)
    pick = lambda q: s[min(len(s) - 1, int(round(q * (len(s) - 1))))]  # noqa: E731
    return {"p50_ms": round(pick(0.50), 2), "p95_ms": round(pick(0.95), 2), "p99_ms": round(pick(0.99), 2),
            "mean_ms": round(statistics.fmean(s), 2), "n": len(s)}


def write_result(name: str, data: dict[str, Any]) -> Path:
    """Write bench/results/<name>.json with the machine it ran on."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    data = {"benchmark": name, "machine": {"cpus": os.cpu_count(), "python": platform.python_version()}, **data}
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(json.dumps(data, indent=2, ensure_ascii=False))
    return path


def replicate_sample(copilot, brand: str, copies: int, now):  # type: ignore[no-untyped-def]
    """Ingest the sample history `copies` times with fresh ids, each copy 30 hours apart, ending at `now`."""
    import json
    from datetime import timedelta

    from copilot.ingest.native import record_from_obj
    from copilot.types import MessageRecord

    items = [i for line in (ROOT / "knowledge" / "history.jsonl").read_text(encoding="utf-8").splitlines()
             for i in record_from_obj(json.loads(line))]
    messages = [i for i in items if isinstance(i, MessageRecord)]
    copilot.ingestor.ingest(brand, [i for i in items if not isinstance(i, MessageRecord)])
    newest = max(m.created_at for m in messages)
    for c in range(copies):
        shift = (now - timedelta(hours=30 * (copies - c))) - newest
        copilot.ingestor.ingest(brand, [m.model_copy(update={
            "source_id": f"{m.source_id}-{c}", "created_at": m.created_at + shift,
            "thread": f"{m.thread}-{c}" if m.thread else None,
            "reply_to": f"{m.reply_to}-{c}" if m.reply_to else None}) for m in messages])
    return messages


def sample_replay_embedder():  # type: ignore[no-untyped-def]
    """Real local embeddings of the sample's unique texts, replayed (plus noise) for their copies."""
    import json

    from bench.search import ReplayEmbedder
    from copilot.embed import LocalMiniLM
    from copilot.ingest.native import record_from_obj
    from copilot.ingest.pipeline import embed_text
    from copilot.types import MessageRecord

    messages = [i for line in (ROOT / "knowledge" / "history.jsonl").read_text(encoding="utf-8").splitlines()
                for i in record_from_obj(json.loads(line)) if isinstance(i, MessageRecord)]
    real = LocalMiniLM()
    texts = sorted({embed_text({"title": m.title, "text": m.text}) for m in messages})
    return ReplayEmbedder(real, dict(zip(texts, real.embed(texts))))
