"""Spotlight and vitality at 100,000 messages / ~5,000 members (target p95 <= 150 ms each) and at 1,000,000
messages (target <= 1.5 s), in-process, with the cost measured at both sizes so its growth can be compared.

Scaling: the 2,987 real SE dev messages are replicated (34 copies for 100k, 335 for 1M) with fresh ids; authors
are remapped per copy (`u<id>-<copy mod 19>`) so ~5,000 distinct members interact, and timestamps are mapped
linearly onto the last 365 days, so the windows hold real-looking traffic. Spotlight uses a 30-day and a
365-day (whole history) window; vitality a 28-day window with 8 weeks of cohorts and weak signals.
No vectors are needed by these reports, so the copies skip the vector index.
"""

from __future__ import annotations

import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import SHARED, percentiles, write_result  # noqa: E402
from copilot.embed import HashEmbedder  # noqa: E402
from copilot.ingest import parse_file  # noqa: E402
from copilot.ingest.pipeline import digest  # noqa: E402
from copilot.runtime import Copilot  # noqa: E402
from copilot.settings import Settings  # noqa: E402
from copilot.types import MemberRecord, MessageRecord  # noqa: E402

NOW = datetime(2026, 11, 27, tzinfo=timezone.utc)
SPAN = timedelta(days=365)


class NullIndex:
    def upsert(self, *a, **k): ...  # noqa: D102
    def delete(self, *a, **k): ...  # noqa: D102
    def ping(self): ...  # noqa: D102


def load(copilot: Copilot, copies: int) -> int:
    records = [r for r in parse_file(SHARED / "community_se_history_meta_en" / "messages_dev.jsonl")
               if isinstance(r, MessageRecord)]
    t_min = min(r.created_at for r in records)
    t_max = max(r.created_at for r in records)
    copilot.store.create_brand("big", "Big", "en")
    authors = {r.author for r in records if r.author}
    copilot.store.upsert_members("big", [MemberRecord(source="stackexchange", source_id=f"{a}-{k}", name=f"{a}-{k}",
                                                      role="bot" if a == "u-1" else "member")
                                         for a in authors for k in range(19)])
    total = 0
    for c in range(copies):
        def remap(r: MessageRecord) -> MessageRecord:
            frac = ((r.created_at - t_min) / (t_max - t_min) + c / copies) % 1.0
            sfx = lambda x: f"{x}-{c}" if x else None  # noqa: E731
            return r.model_copy(update={"source_id": f"{r.source_id}-{c}", "thread": sfx(r.thread), "reply_to": sfx(r.reply_to),
                                        "author": f"{r.author}-{c % 19}" if r.author else None,
                                        "created_at": NOW - SPAN + SPAN * frac})
        batch = [remap(r) for r in records]
        copilot.store.upsert_messages("big", batch, [digest(m) for m in batch])
        total += len(batch)
    copilot.store.bump_revision("big")
    return total


def measure(copilot: Copilot, n_calls: int) -> dict[str, object]:
    out: dict[str, object] = {}
    t = time.perf_counter()
    copilot.snapshots.get("big")
    out["snapshot_build_s"] = round(time.perf_counter() - t, 2)
    for name, call in (("spotlight_30d", lambda: copilot.spotlight.suggest("big", window_days=30, limit=10, now=NOW)),
                       ("spotlight_365d", lambda: copilot.spotlight.suggest("big", window_days=365, limit=10, now=NOW)),
                       ("vitality_28d", lambda: copilot.vitality.report("big", window_days=28, now=NOW))):
        t = time.perf_counter()
        call()
        first = (time.perf_counter() - t) * 1000
        samples = []
        for _ in range(n_calls):
            t = time.perf_counter()
            call()
            samples.append((time.perf_counter() - t) * 1000)
        out[name] = {"first_call_ms": round(first, 1), **percentiles(samples)}
    return out


def main() -> None:
    results: dict[str, object] = {}
    for label, copies, calls in (("100k", 34, 30), ("1M", 335, 8)):
        with tempfile.TemporaryDirectory() as tmp:
            copilot = Copilot(Settings(env="test", data_dir=Path(tmp)), embedder=HashEmbedder(), index=NullIndex())  # type: ignore[arg-type,call-arg]
            t = time.perf_counter()
            n = load(copilot, copies)
            members = len(copilot.store.members_by_key("big"))
            results[label] = {"messages": n, "members": members, "load_s": round(time.perf_counter() - t, 1),
                              **measure(copilot, calls)}
            copilot.close()
        print(label, results[label], flush=True)
    write_result("community", {"scaling": "SE dev history replicated, authors remapped, see module docstring",
                               "targets": {"100k_p95_ms": 150, "1M_ms": 1500}, **results})


if __name__ == "__main__":
    main()
