"""Thanks credits are read when a thanks enters the analytics snapshot (copilot.features.credits) and stay right
through the live write path: messages one at a time as the Slack app ingests them, a thanks before the message it
thanks, an edit, an erasure, a restart from the saved snapshot and a saved snapshot of the previous format."""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from copilot.embed import HashEmbedder
from copilot.features import credits as credits_mod
from copilot.features import snapshot as snapshot_mod
from copilot.features.snapshot import Snapshot, build
from copilot.runtime import Copilot
from copilot.settings import Settings
from copilot.slack.envelope import Event, history_records
from copilot.types import MessageRecord
from tests.test_erasure import files_holding

T0 = datetime(2026, 10, 1, tzinfo=timezone.utc)
NOW = T0 + timedelta(days=3)
NAMES = {"UANNE": "Anne Roy", "UBRUNO": "Bruno Petit", "UCHLOE": "Chloé Martin", "UDAN": "Dan Lee"}


def ts(minute: float) -> str:
    return f"{T0.timestamp() + 60 * minute:.6f}"


def slack(copilot: Copilot, user: str, minute: float, text: str, *, thread: float | None = None) -> Snapshot:
    """One message event through the Slack app's path (history_records, then the ingestor), then the snapshot."""
    event = Event.model_validate({"type": "message", "channel": "C1", "ts": ts(minute), "user": user, "text": text,
                                  "user_profile": {"display_name": NAMES[user]},
                                  **({"thread_ts": ts(thread)} if thread is not None else {})})
    copilot.ingestor.ingest("club", history_records(event))
    return copilot.snapshots.get("club")


def thanks_received(copilot: Copilot) -> dict[str, int]:
    """Thanks received per member in the spotlight's 30-day window."""
    report = copilot.spotlight.suggest("club", window_days=30, limit=20, now=NOW)
    return {s.member.source_id: s.breakdown["thanks_received"] for s in report.suggestions
            if s.breakdown["thanks_received"]}


@pytest.fixture
def club(copilot: Copilot) -> Copilot:
    copilot.store.create_brand("club", "Club", "fr")
    return copilot


def test_a_group_thanks_arriving_live_credits_everyone_it_names(club: Copilot):
    first = slack(club, "UANNE", 0, "Comment on règle le thermostat ?")
    slack(club, "UBRUNO", 1, "Molette à gauche, cran 3.", thread=0)
    slack(club, "UCHLOE", 2, "Et attends 10 minutes avant de vérifier.", thread=0)
    slack(club, "UANNE", 3, "Merci à vous deux !", thread=0)
    slack(club, "UDAN", 10, "Qui a une clé de 10 ?")
    slack(club, "UBRUNO", 11, "Moi, je la laisse au local.", thread=10)
    slack(club, "UCHLOE", 12, "J'en ai une aussi dans ma caisse.", thread=10)
    last = slack(club, "UDAN", 13, "Ok merci Chloé", thread=10)
    assert np.shares_memory(first.created, last.created)  # appended one by one, never rebuilt
    # Bruno: 'vous deux'; Chloé: 'vous deux' and by name. Each Slack reply points at the thread's start (Anne's or
    # Dan's own question), so the replies' authors alone would credit nobody.
    assert thanks_received(club) == {"UBRUNO": 1, "UCHLOE": 2}


def test_a_shout_out_drafted_from_a_suggestion_is_the_suggestions_shout_out(club: Copilot):
    """The draft is ranked on the suggestion's counts, group thanks included. Today a shout-out's facts name help,
    solutions and content, not thanks, so the old counts gave the same text here: this holds the two together."""
    slack(club, "UANNE", 0, "Comment on règle le thermostat ?")
    slack(club, "UBRUNO", 1, "Molette à gauche, cran 3.", thread=0)
    slack(club, "UCHLOE", 2, "Et attends 10 minutes avant de vérifier.", thread=0)
    slack(club, "UANNE", 3, "Merci à vous deux, Bruno et Chloé !", thread=0)
    report = club.spotlight.suggest("club", window_days=30, limit=20, now=NOW)
    checked = 0
    for s in report.suggestions:
        if not s.breakdown["thanks_received"]:
            continue
        draft = club.spotlight.draft_shoutout("club", s.member.id, window_days=30, actor="ed", now=NOW)
        assert draft.body == s.shoutout["text"], s.member.source_id
        checked += 1
    assert checked == 2  # Bruno and Chloé, thanked by name in a reply to Anne's question, not to their answers


def test_a_message_landing_before_a_thanks_is_credited_by_it(club: Copilot):
    slack(club, "UANNE", 0, "Quelqu'un sait où sont les clés ?")
    slack(club, "UANNE", 5, "Merci Bruno !", thread=0)
    assert thanks_received(club) == {}  # Bruno has said nothing in the thread yet
    slack(club, "UBRUNO", 2, "Dans la boîte rouge.", thread=0)  # arrives late, placed before the thanks
    assert thanks_received(club) == {"UBRUNO": 1}


def test_a_thanks_waiting_for_the_message_it_replies_to_credits_its_author_once_it_arrives(club: Copilot):
    club.ingestor.ingest("club", [MessageRecord(source="slack", source_id="C1/t", author="UANNE", author_name="Anne",
                                                created_at=T0 + timedelta(minutes=5), text="Merci !", channel="C1",
                                                reply_to="C1/a", thread="C1/q")])
    club.snapshots.get("club")
    assert thanks_received(club) == {}
    # the answer it replies to, stamped after it (a clock ahead): appended, and the waiting thanks is linked to it
    club.ingestor.ingest("club", [MessageRecord(source="slack", source_id="C1/a", author="UCHLOE", author_name="Chloé",
                                                created_at=T0 + timedelta(minutes=6), text="Dans la boîte.",
                                                channel="C1", thread="C1/q")])
    assert thanks_received(club) == {"UCHLOE": 1}


def test_an_edited_thanks_credits_whom_it_names_now(club: Copilot):
    slack(club, "UANNE", 0, "Comment on règle le thermostat ?")
    slack(club, "UBRUNO", 1, "Molette à gauche.", thread=0)
    slack(club, "UCHLOE", 2, "Cran 3.", thread=0)
    slack(club, "UANNE", 3, "Merci Bruno", thread=0)
    assert thanks_received(club) == {"UBRUNO": 1}
    event = Event.model_validate({"type": "message", "subtype": "message_changed", "channel": "C1", "message": {
        "ts": ts(3), "user": "UANNE", "text": "Merci Chloé", "thread_ts": ts(0)}})
    club.ingestor.ingest("club", history_records(event))
    club.snapshots.get("club")
    assert thanks_received(club) == {"UCHLOE": 1}


def _two_thanked(club: Copilot) -> None:
    slack(club, "UANNE", 0, "Comment on règle le thermostat ?")
    slack(club, "UBRUNO", 1, "Molette à gauche.", thread=0)
    slack(club, "UCHLOE", 2, "Cran 3.", thread=0)
    slack(club, "UANNE", 3, "Merci à vous deux !", thread=0)
    slack(club, "UDAN", 4, "Merci Chloé et Bruno", thread=0)
    assert thanks_received(club) == {"UBRUNO": 2, "UCHLOE": 2}


def test_an_erased_member_leaves_every_credit_at_once_and_the_saved_file(club: Copilot,
                                                                       monkeypatch: pytest.MonkeyPatch):
    _two_thanked(club)
    # No follower thread: nothing applies the erasure's deletions before the erasure itself detaches the member.
    before = club.snapshots.get("club")
    chloe = before.author_code(("slack", "UCHLOE"))
    published: list[Snapshot] = []
    publish = snapshot_mod.Lineage.publish

    def recorded(lineage: snapshot_mod.Lineage) -> Snapshot:
        published.append(publish(lineage))
        return published[-1]

    # Every snapshot served from the erasure on: the one the erasure detaches the member from, before their rows are
    # removed (in a server, until the follower or the rebuild removes them), then the rebuilt one.
    monkeypatch.setattr(snapshot_mod.Lineage, "publish", recorded)
    member = next(m for m in club.store.list_members("club")[0] if m.source_id == "UCHLOE")
    club.erase_member("club", member.id)
    snapshots = club.settings.data_dir / "snapshots"
    assert len(published) >= 2  # detached at once, then rebuilt
    for snap in published:  # codes are renumbered by the rebuild: the old ones only mean something before it
        assert chloe not in snap.credits(np.arange(snap.n)).tolist() if snap.epoch == before.epoch else \
            ("slack", "UCHLOE") not in snap.authors
    assert thanks_received(club) == {"UBRUNO": 2}
    saved = snapshot_mod.load(next(snapshots.glob("*.npz")))
    assert saved is not None and files_holding(snapshots, ("UCHLOE",)) == {}
    credited = {saved.authors[c] for c in saved.publish().credits(np.arange(saved.n)).tolist()}
    assert credited == {("slack", "UBRUNO")}


def test_a_restart_keeps_the_credits_without_reading_any_thanks_again(settings: Settings,
                                                                       monkeypatch: pytest.MonkeyPatch):
    first = Copilot(settings, embedder=HashEmbedder())
    first.store.create_brand("club", "Club", "fr")
    _two_thanked(first)
    first.close()  # saves the snapshot

    def no_reading(*args: object, **kwargs: object) -> None:
        raise AssertionError("a warm restart must neither rebuild nor read thanks again")

    monkeypatch.setattr(snapshot_mod, "build", no_reading)
    monkeypatch.setattr(credits_mod.StoreThanks, "texts", no_reading)
    again = Copilot(settings, embedder=HashEmbedder())
    try:
        assert thanks_received(again) == {"UBRUNO": 2, "UCHLOE": 2}
    finally:
        again.close()


def test_a_saved_snapshot_of_the_previous_format_is_rebuilt(settings: Settings, monkeypatch: pytest.MonkeyPatch):
    first = Copilot(settings, embedder=HashEmbedder())
    first.store.create_brand("club", "Club", "fr")
    _two_thanked(first)
    first.close()
    path = next((settings.data_dir / "snapshots").glob("*.npz"))
    with np.load(path) as data:  # what format 1 wrote: no credits
        arrays = {k: data[k] for k in data.files if k not in ("credit_at", "credit_n", "credited")}
    meta = json.loads(bytes(arrays["meta"]).decode("utf-8"))
    arrays["meta"] = np.frombuffer(json.dumps({**meta, "format": 1}).encode("utf-8"), dtype=np.uint8)
    with open(path, "wb") as fh:
        np.savez(fh, **arrays)
    builds = []
    real_build = snapshot_mod.build
    monkeypatch.setattr(snapshot_mod, "build", lambda *a, **k: builds.append(1) or real_build(*a, **k))
    again = Copilot(settings, embedder=HashEmbedder())
    try:
        assert thanks_received(again) == {"UBRUNO": 2, "UCHLOE": 2} and builds == [1]
    finally:
        again.close()


def _credits_by_key(snap: Snapshot) -> dict[tuple[str, str], list[tuple[str, str]]]:
    rows = np.flatnonzero(snap.thanks & (snap.author >= 0))
    return {(snap.sources[r], snap.ids[r]): sorted(snap.authors[c] for c in snap.credits(np.array([r])).tolist()
                                                   if c >= 0) for r in rows}


def test_followed_credits_equal_credits_read_afresh_through_every_kind_of_write(club: Copilot):
    """Random appends, late messages, edits, moves between threads and deletions: after each, the followed
    snapshot credits what a snapshot built from the database credits."""
    rng = random.Random(5)
    users = list(NAMES)
    texts = ["Merci à vous deux !", "Merci Bruno", "merci @UCHLOE", "Thanks Dan and Anne", "Merci !",
             "Une question ?", "Voilà la réponse.", "Merci tout le monde"]
    live: list[tuple[str, str | None]] = []
    for step in range(90):
        op = rng.choice(["append", "append", "append", "late", "edit", "move", "delete"])
        if op in ("append", "late") or not live:
            minute = step * 10 if op == "append" else rng.uniform(0, step * 10)
            thread = rng.choice([None, *[t for _, t in live if t]])
            sid = f"C1/{T0.timestamp() + 60 * minute:.6f}"
            live.append((sid, thread or sid))
            rec = MessageRecord(source="slack", source_id=sid, author=rng.choice(users), channel="C1",
                                created_at=T0 + timedelta(minutes=minute), text=rng.choice(texts),
                                thread=thread or sid, reply_to=thread)
        else:
            sid, thread = rng.choice(live)
            row = club.store.get_messages("club", [f"slack:{sid}"])[f"slack:{sid}"]
            update: dict[str, object] = {"text": rng.choice(texts)}
            if op == "move":
                update = {"thread": rng.choice([t for _, t in live])}
            elif op == "delete":
                update = {"deleted": True}
                live.remove((sid, thread))
            rec = MessageRecord(source="slack", source_id=sid, author=row.author, channel="C1",
                                created_at=row.created_at, text=row.text, thread=row.thread,
                                reply_to=row.reply_to).model_copy(update=update)
        club.ingestor.ingest("club", [rec])
        followed = club.snapshots.get("club")
        seqs = club.store.brand_seqs(["club"])["club"]
        fresh = build(club.store.snapshot_rows("club"), epoch=seqs.snapshot_epoch, hwm=seqs.change_seq,
                      reader=credits_mod.StoreThanks(club.store, "club")).publish()
        assert _credits_by_key(followed) == _credits_by_key(fresh), (step, op)
