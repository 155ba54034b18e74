"""Reports of a live community equal reports computed from scratch: vitality and the drift feed audit keep derived
state between requests (author masks and code tables per snapshot generation, cohorts extended on appends, member
join times patched from the member rows read again), and none of it may go stale through appends, replies to old
messages, edits, reactions, deletions, late imports or member changes."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from copilot.features.drift_service import DriftService
from copilot.features.snapshot import Snapshots
from copilot.features.vitality import VitalityService
from copilot.runtime import Copilot
from copilot.store import Store
from copilot.types import MemberRecord, MessageRecord

T0 = datetime(2026, 6, 1, tzinfo=timezone.utc)
TEXTS = ["Une question sur les freins ?", "Merci beaucoup pour ton aide !", "C'est nul, vraiment n'importe quoi",
         "How do I true a wheel?", "Je recommande cette communauté à tous", "Voilà ce que je fais d'habitude"]
PROMO = "Dernière chance : -30% ce soir seulement, partagez et taguez 3 amis !"


def message(i: str, author: str, hours: float, text: str, **kw: object) -> MessageRecord:
    return MessageRecord(source_id=i, author=author, created_at=T0 + timedelta(hours=hours), text=text,
                         channel=kw.pop("channel", "atelier"), **kw)  # type: ignore[arg-type]


def from_scratch(copilot: Copilot) -> tuple[VitalityService, DriftService, Store]:
    """Services with nothing cached: their own store (own member cache) and a snapshot built from the database."""
    store = Store(copilot.settings.sqlalchemy_url, busy_timeout_s=copilot.settings.sqlite_busy_timeout_s)
    snapshots = Snapshots(store)
    return VitalityService(store, snapshots), DriftService(store, snapshots), store


def assert_reports_equal_fresh(copilot: Copilot, brand: str, nows: list[datetime]) -> None:
    vitality, drift, store = from_scratch(copilot)
    try:
        for now in nows:
            for days in (7, 28):
                live = copilot.vitality.report(brand, window_days=days, now=now).model_dump()
                fresh = vitality.report(brand, window_days=days, now=now).model_dump()
                live["window"].pop("as_of"), fresh["window"].pop("as_of")
                assert live == fresh, (now, days)
            live_feed = copilot.drift.report(brand, window_days=30, now=now).model_dump()
            fresh_feed = drift.report(brand, window_days=30, now=now).model_dump()
            live_feed["window"].pop("as_of"), fresh_feed["window"].pop("as_of")
            assert live_feed == fresh_feed, now
    finally:
        store.close()


def test_live_reports_equal_reports_from_scratch_through_every_kind_of_write(copilot: Copilot):
    brand = "acme"
    copilot.store.create_brand(brand, "Acme", "fr")
    rng = random.Random(11)
    members = [MemberRecord(source_id=f"u{k}", name=f"U{k}", joined_at=T0 + timedelta(days=k)) for k in range(10)]
    copilot.ingestor.ingest(brand, [*members, MemberRecord(source_id="staff", role="staff"),
                                    MemberRecord(source_id="bot", role="bot")])
    copilot.ingestor.ingest(brand, [message(str(i), f"u{i % 7}", 6 * i, rng.choice(TEXTS),
                                            kind="question" if i % 3 == 0 else "post") for i in range(60)])
    live = {str(i) for i in range(60)}
    hours = 6 * 60
    nows = [T0 + timedelta(hours=200), T0 + timedelta(days=40)]
    assert_reports_equal_fresh(copilot, brand, nows)  # warm every cache before the writes start
    ops = ["append", "append", "reply_old", "reply_old", "staff_post", "reaction", "edit_text", "edit_kind",
           "delete", "late", "new_member", "role", "opt_out", "joined"]
    done: set[str] = set()
    for step in range(70):
        op = ops[step] if step < len(ops) else rng.choice(ops)  # every kind of write at least once
        done.add(op)
        hours += 3
        sid = f"s{step}"
        if op == "append":
            records: list[MessageRecord | MemberRecord] = [
                message(sid, f"u{rng.randrange(12)}", hours, rng.choice(TEXTS), kind="question")]
        elif op == "reply_old":  # a reply to an old question moves its first response time, in a closed week
            parent = rng.choice(sorted(live))
            records = [message(sid, rng.choice(["staff", f"u{rng.randrange(12)}"]), hours, "Essaie ça, merci !",
                               kind="answer", reply_to=parent)]
        elif op == "staff_post":
            records = [message(sid, "staff", hours, rng.choice([PROMO, "Bienvenue aux nouveaux !"]), kind="post")]
        elif op in ("reaction", "edit_text", "edit_kind"):
            target = rng.choice(sorted(live))
            row = copilot.store.get_messages(brand, [f"native:{target}"])[f"native:{target}"]
            records = [MessageRecord(
                source_id=target, author=row.author, created_at=row.created_at, channel=row.channel,
                reply_to=row.reply_to, title=row.title,
                text=rng.choice(TEXTS) if op == "edit_text" else row.text,
                kind=rng.choice(["question", "answer", "post", "comment"]) if op == "edit_kind" else row.kind,
                reactions={"👍": rng.randrange(1, 9)} if op == "reaction" else row.reactions)]
        elif op == "delete":
            target = rng.choice(sorted(live))
            records = [MessageRecord(source_id=target, created_at=T0, text="x", deleted=True)]
        elif op == "late":  # an import of older messages
            records = [message(f"{sid}-{k}", f"u{rng.randrange(12)}", rng.uniform(0, hours), rng.choice(TEXTS),
                               kind="question") for k in range(2)]
        elif op == "new_member":
            records = [MemberRecord(source_id=f"n{step}", joined_at=T0 + timedelta(hours=rng.uniform(0, hours))),
                       message(sid, f"n{step}", hours, rng.choice(TEXTS), kind="post")]
        else:  # a member becomes staff or opts out of analytics, or gets a join date: roles and counts move
            key = rng.choice([f"u{k}" for k in range(10)])
            member = next(m for m in copilot.store.list_members(brand, limit=500)[0] if m.source_id == key)
            change = {"role": {"role": "staff"}, "opt_out": {"consent_analytics": "opt_out"},
                      "joined": {"joined_at": T0 + timedelta(hours=rng.uniform(0, hours))}}[op]
            copilot.store.update_member(brand, member.id, change)
            records = []
        if records:
            copilot.ingestor.ingest(brand, records)
        live |= {r.source_id for r in records if isinstance(r, MessageRecord) and not r.deleted}
        live -= {r.source_id for r in records if isinstance(r, MessageRecord) and r.deleted}
        if step % 5 == 4 or step < len(ops):
            assert_reports_equal_fresh(copilot, brand, nows + [T0 + timedelta(hours=hours + 1)])
    assert done == set(ops)


@pytest.mark.parametrize("sabotage", ["mask", "joined"])
def test_the_comparison_catches_a_stale_cache(copilot: Copilot, monkeypatch: pytest.MonkeyPatch, sabotage: str):
    """The check above can fail: with an author mask that stops following appends, or join times that stop
    following member changes, the live report drifts from the fresh one."""
    from copilot.features import snapshot as snapshot_mod
    from copilot.features import vitality as vitality_mod

    brand = "acme"
    copilot.store.create_brand(brand, "Acme", "fr")
    copilot.ingestor.ingest(brand, [MemberRecord(source_id="staff", role="staff"),
                                    *[message(str(i), f"u{i % 4}", 6 * i, TEXTS[i % 3], kind="question")
                                      for i in range(20)]])
    now = T0 + timedelta(days=10)
    copilot.vitality.report(brand, now=now)
    copilot.drift.report(brand, window_days=30, now=now)
    if sabotage == "mask":  # stale masks: rows appended later never count as the brand's
        real = snapshot_mod.Snapshot.author_mask
        frozen: dict[object, np.ndarray] = {}

        def stale(self, pairs):  # type: ignore[no-untyped-def]
            mask = frozen.setdefault((id(self.memo), frozenset(pairs)), real(self, pairs))  # this lineage only
            return np.concatenate([mask[:self.n], np.zeros(max(0, self.n - len(mask)), dtype=bool)])

        monkeypatch.setattr(snapshot_mod.Snapshot, "author_mask", stale)
        copilot.vitality.report(brand, now=now)
        copilot.ingestor.ingest(brand, [message(f"r{i}", "staff", 125 + i, "Voilà", kind="answer", reply_to=str(i))
                                        for i in range(5)])
    else:  # join times read once and never patched
        monkeypatch.setattr(vitality_mod, "_patch_joined", lambda joined, *a: joined)
        copilot.ingestor.ingest(brand, [MemberRecord(source_id="late", joined_at=T0 + timedelta(days=1))])
    with pytest.raises(AssertionError):
        assert_reports_equal_fresh(copilot, brand, [now])
