"""The sample brand in `knowledge/`: what `make run`, `copilot demo` and the docs' examples use."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Callable

from copilot.runtime import Copilot

KNOWLEDGE = Path(__file__).resolve().parent.parent / "knowledge"
# What the demo and the `serve` banner show of the sample: data in knowledge/demo.toml, never in the engines.
DEMO = tomllib.loads((KNOWLEDGE / "demo.toml").read_text(encoding="utf-8"))
SAMPLE_BRAND: str = DEMO["brand"]
SAMPLE_QUERIES: tuple[str, ...] = tuple(DEMO["queries"])
SAMPLE_RITUAL: str = DEMO["ritual"]
SAMPLE_PROMO_POST: str = DEMO["promo_post"]


def load_sample(copilot: Copilot, *, knowledge: Path = KNOWLEDGE,
                progress: Callable[[int], None] | None = None) -> dict[str, Any]:
    """Create the sample brand if needed and (re)load its charter and history; idempotent. `progress` gets the
    number of history records read so far."""
    if copilot.store.find_brand(SAMPLE_BRAND) is None:
        copilot.store.create_brand(SAMPLE_BRAND, DEMO["name"], DEMO["language"])
    charter_path = knowledge / "charter.md"
    _, _, created = copilot.put_charter(SAMPLE_BRAND, charter_path.read_text(encoding="utf-8"), filename=charter_path.name)
    report = copilot.ingest_file(SAMPLE_BRAND, knowledge / "history.jsonl", "jsonl", progress=progress)
    return {"brand": SAMPLE_BRAND, "charter_new_version": created, **report.as_dict()}
