"""Offline evaluations that print JSON metrics."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from copilot.errors import InvalidInput
from copilot.retrieve import Mode, Retriever


def read_queries(path: Path) -> list[dict[str, Any]]:
    """Rows `{"query", "relevant_ids": [...], "lang"?}`; a bad row is an error naming its line."""
    rows = []
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            assert isinstance(row["query"], str) and row["query"].strip()
            assert isinstance(row["relevant_ids"], list) and row["relevant_ids"]
        except (json.JSONDecodeError, KeyError, AssertionError, TypeError) as exc:
            raise InvalidInput(f"{path.name}:{lineno}: expected {{\"query\": str, \"relevant_ids\": [str, ...]}}",
                               field="data") from exc
        rows.append(row)
    return rows


def _metrics(rows: list[tuple[float, float]]) -> dict[str, float]:
    n = len(rows)
    return {"recall_at_5": round(sum(r for r, _ in rows) / n, 4) if n else 0.0,
            "mrr": round(sum(m for _, m in rows) / n, 4) if n else 0.0, "n": n}


def evaluate_retrieval(retriever: Retriever, brand: str, queries: list[dict[str, Any]], *,
                       mode: Mode = "hybrid", k: int = 10) -> dict[str, Any]:
    """Recall@5 (share of relevant ids in the top 5) and MRR@k, overall and per language."""
    per_lang: dict[str, list[tuple[float, float]]] = {}
    scored: list[tuple[float, float]] = []
    for q in queries:
        ids = [h.id for h in retriever.search(brand, q["query"], limit=k, mode=mode)]
        relevant = set(q["relevant_ids"])
        recall = len(relevant & set(ids[:5])) / len(relevant)
        rr = next((1.0 / (i + 1) for i, x in enumerate(ids) if x in relevant), 0.0)
        scored.append((recall, rr))
        per_lang.setdefault(q.get("lang", "unknown"), []).append((recall, rr))
    return {**_metrics(scored), "mode": mode, "by_lang": {lang: _metrics(v) for lang, v in sorted(per_lang.items())}}
