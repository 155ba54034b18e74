"""The sample brand in `knowledge/`: what `make run`, `copilot demo` and the docs' examples use."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from copilot.runtime import Copilot

KNOWLEDGE = Path(__file__).resolve().parent.parent / "knowledge"
SAMPLE_BRAND = "roue-libre"
# What the demo and the `serve` banner show of the sample (the sample is data: its words live here, never in
# the engines).
SAMPLE_QUERIES = ("chaîne qui saute", "tubeless puncture", "bienvenue nouveaux membres")
SAMPLE_RITUAL = "Jeudi réparation"
SAMPLE_PROMO_POST = "PROMO FLASH -30% ce soir seulement, partage et tague 3 amis !!!"


def load_sample(copilot: Copilot, *, knowledge: Path = KNOWLEDGE,
                progress: Callable[[int], None] | None = None) -> dict[str, Any]:
    """Create the sample brand if needed and (re)load its charter and history; idempotent. `progress` gets the
    number of history records read so far."""
    if copilot.store.find_brand(SAMPLE_BRAND) is None:
        copilot.store.create_brand(SAMPLE_BRAND, "Roue Libre", "fr")
    charter_path = knowledge / "charter.md"
    _, _, created = copilot.put_charter(SAMPLE_BRAND, charter_path.read_text(encoding="utf-8"), filename=charter_path.name)
    report = copilot.ingest_file(SAMPLE_BRAND, knowledge / "history.jsonl", "jsonl", progress=progress)
    return {"brand": SAMPLE_BRAND, "charter_new_version": created, **report.as_dict()}
