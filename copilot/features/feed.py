"""The brand's own feed: statistics for the promotional quota, and the drift audit over a window.

Brand accounts are members with role `staff`. A brand *post* is a top-level message of a brand account;
replies to members are conversation, not posts. A member contribution (a question or a top-level post by a
member) counts as acknowledged when someone else replied to it or reacted to it; contributions younger than
48 hours are not judged yet.
"""

from __future__ import annotations

from collections import OrderedDict
from datetime import datetime, timedelta, timezone
from typing import Any

import numpy as np

from copilot.features import drift_rules as R
from copilot.features.drift import MIN_QUOTA_POSTS, DriftResult, FeedStats, check_text
from copilot.features.snapshot import Snapshot, Snapshots
from copilot.phrases import say
from copilot.reports import FeedReport
from copilot.store import Store
from copilot.types import Charter

ACK_GRACE = timedelta(hours=48)
DEFINITIONS = {
    "brand_posts": "top-level messages by brand accounts (members with role staff) in the window",
    "promo_share": "share of brand posts the rules engine marks promotional (hard sell, urgency, self-promotion, "
                   "instrumentalisation)",
    "asks_per_week": "requests made of readers (share, like, follow, review, tag, subscribe …) in brand posts, per week",
    "unacknowledged": "member questions and top-level posts older than 48 h with no reply from someone else and no reaction",
    "brand_share": "brand accounts' messages / all messages in the window (charter and documents excluded)",
}


class ScoreCache:
    """Drift results of brand posts (and their ask counts) by content hash: a post is scored once."""

    def __init__(self, size: int = 100_000):
        self.size = size
        self._data: OrderedDict[tuple[str, str], tuple[DriftResult, int]] = OrderedDict()

    def get(self, key: tuple[str, str]) -> tuple[DriftResult, int] | None:
        """The cached (result, asks) or None."""
        return self._data.get(key)

    def put(self, key: tuple[str, str], value: tuple[DriftResult, int]) -> None:
        """Remember a result, evicting the oldest beyond the size."""
        self._data[key] = value
        if len(self._data) > self.size:
            self._data.popitem(last=False)


class Feed:
    """Reads the brand's feed from the store and scores it with the rules engine."""

    def __init__(self, store: Store, snapshots: Snapshots):
        self.store, self.snapshots = store, snapshots
        self.cache = ScoreCache()

    def _brand_posts(self, brand: str, charter: Charter | None, since: datetime, until: datetime) -> list[dict[str, Any]]:
        staff = self.store.member_roles(brand)["staff"]
        rows = self.store.posts_by_author(brand, staff, since, until)
        tag = charter.model_dump_json() if charter else ""
        charter_key = str(hash(tag))
        keys = [(r[5] or "", charter_key) for r in rows]
        missing = [(r[0], r[1]) for r, k in zip(rows, keys) if self.cache.get(k) is None]
        texts = self.store.texts(brand, missing) if missing else {}
        posts = []
        for (source, sid, _author, created, _kind, _digest, permalink), key in zip(rows, keys):
            scored = self.cache.get(key)
            if scored is None:
                text = texts[(source, sid)]
                scored = (check_text(text, charter=charter, with_rewrite=False),
                          len(R.ASKS.findall(text)))
                self.cache.put(key, scored)
            posts.append({"id": sid, "source": source, "created_at": created, "permalink": permalink,
                          "result": scored[0], "asks": scored[1]})
        return posts

    def stats(self, brand: str, charter: Charter | None, *, now: datetime, window_days: int = 30) -> FeedStats:
        """Promotional counts of the brand's posts over the window ending at `now`."""
        posts = self._brand_posts(brand, charter, now - timedelta(days=window_days), now)
        flags = [p["result"].promotional for p in posts]
        return FeedStats(brand_posts=len(posts), promotional_posts=sum(flags), recent_promotional=flags[-10:])

    def report(self, brand: str, charter: Charter | None, *, now: datetime, window_days: int) -> FeedReport:
        """The drift audit of the brand's own feed over the window."""
        since = now - timedelta(days=window_days)
        posts = self._brand_posts(brand, charter, since, now)
        roles = self.store.member_roles(brand)
        snap = self.snapshots.get(brand)
        window = snap.window(since.timestamp(), now.timestamp())
        staff = snap.author_mask(roles["staff"])
        weeks = max(1.0, window_days / 7)
        promo = sum(p["result"].promotional for p in posts)
        policy = charter.promotion_policy if charter else None
        messages = window.stop - window.start
        brand_msgs = int(staff[window].sum())
        unack = _unacknowledged(snap, window, roles, staff, now)
        lang = charter.languages[0] if charter and charter.languages else self.store.get_brand(brand).language
        return FeedReport.model_validate({
            "window": {"since": since, "until": now, "days": window_days, "as_of": snap.as_of},
            "brand_posts": len(posts), "promotional_posts": promo,
            "promo_share": round(promo / len(posts), 4) if posts else 0.0,
            "max_promotional_share": policy.max_promotional_share if policy else None,
            "over_quota": bool(policy and policy.max_promotional_share is not None and len(posts) >= MIN_QUOTA_POSTS
                               and promo / len(posts) > policy.max_promotional_share),
            "quota_judged": len(posts) >= MIN_QUOTA_POSTS,
            "quota_note": None if len(posts) >= MIN_QUOTA_POSTS else
            say(lang, "feed.quota_note", count=len(posts), minimum=MIN_QUOTA_POSTS),
            "quota_passage_id": policy.passage_id if policy else None,
            "asks_total": sum(p["asks"] for p in posts),
            "asks_per_week": round(sum(p["asks"] for p in posts) / weeks, 2),
            "member_contributions": unack["contributions"], "unacknowledged": unack["count"],
            "unacknowledged_share": round(unack["count"] / unack["contributions"], 4) if unack["contributions"] else 0.0,
            "unacknowledged_examples": unack["examples"],
            "messages": messages, "brand_messages": brand_msgs,
            "brand_share": round(brand_msgs / messages, 4) if messages else 0.0,
            "weekly": _weekly(posts, snap, window, staff, since, now),
            "worst_posts": _worst(self.store, brand, posts),
            "definitions": DEFINITIONS,
        })


def _unacknowledged(snap: Snapshot, window: slice, roles: dict[str, Any], staff: np.ndarray,
                    now: datetime) -> dict[str, Any]:
    excluded = staff | snap.author_mask(roles["bot"] | roles["no_analytics"]) | (snap.author < 0)
    replies = (snap.parent >= 0) & (snap.created < now.timestamp())
    replies &= snap.author != snap.author[np.maximum(snap.parent, 0)]
    acked = np.zeros(snap.n, dtype=bool)
    acked[snap.parent[replies]] = True
    in_window = np.zeros(snap.n, dtype=bool)
    in_window[window] = True
    contrib = in_window & snap.kind_is("question", "post") & ~snap.is_reply & ~excluded
    contrib &= snap.created < (now - ACK_GRACE).timestamp()
    left = np.flatnonzero(contrib & (snap.reactions == 0) & ~acked)
    examples = [{"id": snap.ids[i], "source": snap.sources[i], "author": snap.authors[snap.author[i]][1],
                 "channel": snap.channels[snap.channel[i]] if snap.channel[i] >= 0 else None,
                 "created_at": datetime.fromtimestamp(snap.created[i], tz=timezone.utc)} for i in left[-10:]]
    return {"contributions": int(contrib.sum()), "count": len(left), "examples": examples}


def _weekly(posts: list[dict[str, Any]], snap: Snapshot, window: slice, staff: np.ndarray, since: datetime,
            now: datetime) -> list[dict[str, Any]]:
    n_weeks = max(1, -(-(now - since).days // 7))
    week_of = np.minimum(((snap.created[window] - since.timestamp()) // (7 * 86400)).astype(np.int64), n_weeks - 1)
    messages = np.bincount(week_of, minlength=n_weeks)
    brand = np.bincount(week_of, weights=staff[window].astype(np.float64), minlength=n_weeks)
    by_week: list[list[dict[str, Any]]] = [[] for _ in range(n_weeks)]
    for p in posts:
        by_week[min(n_weeks - 1, max(0, (p["created_at"] - since).days // 7))].append(p)
    out = []
    for i, wk_posts in enumerate(by_week):
        promo = sum(p["result"].promotional for p in wk_posts)
        out.append({"week_start": since + timedelta(days=7 * i), "brand_posts": len(wk_posts), "promotional_posts": promo,
                    "promo_share": round(promo / len(wk_posts), 4) if wk_posts else 0.0,
                    "asks": sum(p["asks"] for p in wk_posts), "messages": int(messages[i]),
                    "brand_share": round(float(brand[i]) / messages[i], 4) if messages[i] else 0.0,
                    "mean_drift_score": round(sum(p["result"].score for p in wk_posts) / len(wk_posts), 4)
                    if wk_posts else 0.0})
    return out


def _worst(store: Store, brand: str, posts: list[dict[str, Any]], n: int = 5) -> list[dict[str, Any]]:
    ranked = sorted((p for p in posts if p["result"].verdict != "ok"), key=lambda p: -p["result"].score)[:n]
    texts = store.texts(brand, [(p["source"], p["id"]) for p in ranked])
    for p in ranked:
        p["excerpt"] = texts.get((p["source"], p["id"]), "")[:280]
    return [{"id": p["id"], "source": p["source"], "created_at": p["created_at"], "permalink": p["permalink"],
             "excerpt": p["excerpt"], "score": p["result"].score, "verdict": p["result"].verdict,
             "flags": [f.model_dump() for f in p["result"].flags]} for p in ranked]


def utcnow() -> datetime:
    """Aware current time (the API passes it in; tests pin it)."""
    return datetime.now(timezone.utc)
