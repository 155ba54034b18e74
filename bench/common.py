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
