"""Drift speed: one check of a 1,500-character post against a 20-section charter (deterministic engine,
in-process; target p95 <= 15 ms), the worst case over adversarial 20,000-character inputs, and the feed audit
over ~114,000 messages (target: 100,000 at p95 <= 500 ms).

Scaling for the audit: the sample brand's 473-message history is replicated 242 times (fresh ids, each copy
shifted by 30 hours, so ~114,000 messages over ~300 days, ~8,200 of them brand posts); the audit window
(365 days) covers all of them. Vectors are not needed by the audit, so the copies skip the vector index.
"""

from __future__ import annotations

import json
import random
import string
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import ROOT, percentiles, write_result  # noqa: E402
from copilot.embed import HashEmbedder  # noqa: E402
from copilot.features.drift import FeedStats, check_text  # noqa: E402
from copilot.ingest.charter import parse_charter  # noqa: E402
from copilot.ingest.native import record_from_obj  # noqa: E402
from copilot.ingest.pipeline import digest  # noqa: E402
from copilot.runtime import Copilot  # noqa: E402
from copilot.settings import Settings  # noqa: E402
from copilot.types import MessageRecord  # noqa: E402

COPIES = 242


class NullIndex:
    """Keeps no vectors (the audit reads only the SQL store)."""

    def upsert(self, *a, **k): ...  # noqa: D102
    def delete(self, *a, **k): ...  # noqa: D102
    def ping(self): ...  # noqa: D102


def twenty_section_charter() -> str:
    base = (ROOT / "knowledge" / "charter.md").read_text(encoding="utf-8")
    extra = "".join(f"\n## Principe {i}\n\n- **Point {i}** : on écrit pour les membres, avec des exemples concrets "
                    f"de l'atelier numéro {i}.\n- On évite les formules creuses et les promesses.\n" for i in range(14))
    return base + extra


def post_1500() -> str:
    parts = ["Le carnet du lundi est ouvert : raconte ta sortie ou ta réparation de la semaine.",
             "Petit point stock : les garde-boue 45 mm sont de retour jeudi, désolés pour l'attente.",
             "PROMO FLASH -30% sur les antivols jusqu'à dimanche, dernière chance, partage et tague tes amis !",
             "Merci à Jeanne pour son tuto sur les plaquettes, il a aidé beaucoup de monde. 🚲",
             "Jeudi réparation à 18h : pose tes questions, les membres experts répondent aussi."]
    text = ""
    while len(text) < 1500:
        text += " " + parts[len(text) % len(parts)]
    return text[:1500]


def adversarial() -> list[str]:
    rng = random.Random(1)
    alphabet = string.printable + "éàç€£%!?🚲 "
    return (["0." * 10000, "a." * 10000, "0" * 20000, "!" * 20000, "www." * 5000, "€1" * 10000, " 0" * 10000]
            + ["".join(rng.choice(alphabet) for _ in range(20000)) for _ in range(3)])


def audit_store(tmp: Path) -> Copilot:
    copilot = Copilot(Settings(env="test", data_dir=tmp), embedder=HashEmbedder(), index=NullIndex())  # type: ignore[arg-type,call-arg]
    copilot.store.create_brand("big", "Big", "fr")
    copilot.put_charter("big", (ROOT / "knowledge" / "charter.md").read_text(encoding="utf-8"))
    items = [i for line in (ROOT / "knowledge" / "history.jsonl").read_text(encoding="utf-8").splitlines()
             for i in record_from_obj(json.loads(line))]
    members = [i for i in items if not isinstance(i, MessageRecord)]
    messages = [i for i in items if isinstance(i, MessageRecord)]
    copilot.store.upsert_members("big", members)
    start = min(m.created_at for m in messages)
    offset = datetime(2025, 12, 1, tzinfo=timezone.utc) - start
    for c in range(COPIES):
        shift = offset + timedelta(hours=30 * c)
        batch = [m.model_copy(update={"source_id": f"{m.source_id}-{c}", "created_at": m.created_at + shift,
                                      "thread": f"{m.thread}-{c}" if m.thread else None,
                                      "reply_to": f"{m.reply_to}-{c}" if m.reply_to else None}) for m in messages]
        copilot.store.upsert_messages("big", batch, [digest(m) for m in batch])
    return copilot


def main() -> None:
    charter = parse_charter(twenty_section_charter())
    post = post_1500()
    feed = FeedStats(brand_posts=40, promotional_posts=3, recent_promotional=[False] * 10)
    for _ in range(20):
        check_text(post, charter=charter, feed=feed)
    samples = []
    for _ in range(500):
        t = time.perf_counter()
        check_text(post, charter=charter, feed=feed)
        samples.append((time.perf_counter() - t) * 1000)
    worst = 0.0
    for text in adversarial():
        t = time.perf_counter()
        check_text(text, charter=charter, feed=feed)
        worst = max(worst, (time.perf_counter() - t) * 1000)
    with tempfile.TemporaryDirectory() as tmp:
        copilot = audit_store(Path(tmp))
        if "--profile" in sys.argv:
            import cProfile
            import pstats

            cProfile.runctx("copilot.drift.report('big', window_days=365, now=datetime(2026, 11, 27, tzinfo=timezone.utc))",
                            globals(), locals(), "/tmp/audit.prof")
            pstats.Stats("/tmp/audit.prof").sort_stats("tottime").print_stats(12)
        now = datetime(2026, 11, 27, tzinfo=timezone.utc)
        n = copilot.store.count_messages("big")
        t = time.perf_counter()
        report = copilot.drift.report("big", window_days=365, now=now)
        cold_ms = (time.perf_counter() - t) * 1000
        audit = []
        for _ in range(20):
            t = time.perf_counter()
            copilot.drift.report("big", window_days=365, now=now)
            audit.append((time.perf_counter() - t) * 1000)
        copilot.close()
    write_result("drift", {
        "check": {"post_chars": len(post), "charter_sections": len({p.section for p in charter.passages}),
                  **percentiles(samples), "target_p95_ms": 15},
        "adversarial_20k_worst_ms": round(worst, 1),
        "audit": {"messages": n, "window_messages": report["messages"], "brand_posts": report["brand_posts"],
                  "cold_first_call_ms": round(cold_ms, 1), **percentiles(audit), "target_p95_ms": 500,
                  "scaling": f"sample history x{COPIES}, see module docstring"},
    })


if __name__ == "__main__":
    main()
