"""The analytics snapshot's lineage on rows written here (issue 17, mutation check): an erased member leaves every
row at once, and a late message re-lays the rows out in time order without losing when the snapshot reflects the
database. Rows are (mid, source, source_id, author, created, kind, reply_to, thread, reactions, solution, channel,
signal bits), as `Store.snapshot_rows` gives them."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from copilot.features.snapshot import build

T0 = datetime(2026, 3, 2, 9, tzinfo=timezone.utc)


def row(mid: int, sid: str, author: str, hours: int, reply_to: str | None = None) -> tuple:
    return (mid, "native", sid, author, T0 + timedelta(hours=hours), "answer" if reply_to else "question", reply_to,
            None, 0, False, "general", 0)


def test_an_erased_member_leaves_every_row_at_once_and_only_once():
    lin = build([row(1, "q1", "ana", 0), row(2, "a1", "ben", 1, "q1"), row(3, "q2", "ana", 2)], epoch=1, hwm=3)
    assert lin.forget_author(("native", "ana"))
    snap = lin.publish()
    authors = [snap.authors[a] if a >= 0 else None for a in snap.author]
    assert authors == [None, ("native", "ben"), None]
    assert snap.author_code(("native", "ana")) == -1
    assert not lin.forget_author(("native", "ana"))  # nothing left to forget


def test_a_late_message_is_placed_in_time_order_and_the_snapshot_keeps_its_as_of():
    # chunks of two: the third row is older than the second, so the lineage is re-laid out
    lin = build([row(1, "q1", "ana", 0), row(2, "q2", "ben", 5), row(3, "q3", "cy", 2)], epoch=1, hwm=3, chunk=2)
    snap = lin.publish()
    assert list(snap.ids) == ["q1", "q3", "q2"]
    assert isinstance(snap.as_of, datetime) and snap.as_of <= datetime.now(timezone.utc)


def test_saves_wait_for_their_interval_unless_forced_and_stopping_saves_what_moved(tmp_path):
    """A saved snapshot is what a restart starts from: the follower's periodic save waits `save_interval_s` after
    the last one, while a forced save (stopping, an erasure, a rebuild) writes at once, even right after a save."""
    from copilot.features.snapshot import Snapshots, load
    from copilot.ingest.pipeline import digest
    from copilot.store import Store
    from copilot.types import MessageRecord

    store = Store(f"sqlite:///{tmp_path / 'c.db'}")
    store.create_brand("b", "B", "en")

    def write(*sids: str) -> None:
        records = [MessageRecord(source_id=s, author="ana", created_at=T0 + timedelta(hours=k), text=f"text {s}")
                   for k, s in enumerate(sids)]
        store.upsert_messages("b", records, [digest(r) for r in records])

    write("m1", "m2")
    snaps = Snapshots(store, root=tmp_path / "snaps", save_interval_s=3600)
    assert snaps.get("b").n == 2
    path = snaps._path("b")
    assert path is not None and load(path).n == 2  # a fresh build is saved before it is served
    write("m1", "m2", "m3")
    assert snaps.get("b").n == 3
    snaps._tick()  # the follower's periodic step: the interval since the last save has not passed
    assert load(path).n == 2
    snaps.stop()  # forced: what moved since the last save is kept for the next start
    assert load(path).n == 3
    store.close()


def test_a_kind_the_snapshot_does_not_know_counts_as_a_post():
    poll = (2, "native", "p1", "ben", T0 + timedelta(hours=1), "poll", None, None, 0, False, "general", 0)
    snap = build([row(1, "q1", "ana", 0), poll], epoch=1, hwm=2).publish()
    assert snap.kind_is("post").tolist() == [False, True]
    assert snap.kind_is("question").tolist() == [True, False]


def test_an_author_met_in_rows_not_applied_yet_is_published_as_not_seen_yet():
    """A change read but not applied yet (left to the follower) has already given its new author a code: a snapshot
    published meanwhile lists them, first seen never, and the first row applied dates them."""
    lin = build([row(1, "q1", "ana", 0)], epoch=1, hwm=1)
    lin.publish()
    enc = lin.encode([row(2, "q2", "ben", 3)])
    snap = lin.publish()
    assert snap.authors == [("native", "ana"), ("native", "ben")]
    assert snap.first_seen.tolist() == [T0.timestamp(), float("inf")]
    assert snap.n == 1
    lin.append(enc)
    assert lin.publish().first_seen.tolist() == [T0.timestamp(), (T0 + timedelta(hours=3)).timestamp()]


def test_readiness_says_each_brands_revision_and_what_it_lags(tmp_path):
    from copilot.features.snapshot import Snapshots
    from copilot.ingest.pipeline import digest
    from copilot.store import Store
    from copilot.types import MessageRecord

    store = Store(f"sqlite:///{tmp_path / 'c.db'}")
    store.create_brand("b", "B", "en")
    records = [MessageRecord(source_id="m1", author="ana", created_at=T0, text="hello")]
    store.upsert_messages("b", records, [digest(r) for r in records])
    snaps = Snapshots(store)
    revision = snaps.get("b").revision
    ready, states = snaps.status()
    assert ready and states["b"].startswith(f"revision {revision} as of ") and "behind" not in states["b"]
    snaps._known["b"] = revision + 2  # another replica wrote twice; the follower has not caught up yet
    assert snaps.status()[1]["b"].endswith(", 2 behind")
    store.close()
