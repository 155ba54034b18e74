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

from copilot.features import drift_rules as R
from copilot.features.drift import DriftResult, FeedStats, check_text
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
    """Drift results of brand posts by content hash (a post is scored once, whatever the window)."""

    def __init__(self, size: int = 50_000):
        self.size = size
        self._data: OrderedDict[tuple[str, str], DriftResult] = OrderedDict()

    def get(self, key: tuple[str, str], compute: Any) -> DriftResult:
        """The cached result or a fresh one."""
        hit = self._data.get(key)
        if hit is None:
            hit = compute()
            self._data[key] = hit
            if len(self._data) > self.size:
                self._data.popitem(last=False)
        return hit


class Feed:
    """Reads the brand's feed from the store and scores it with the rules engine."""

    def __init__(self, store: Store):
        self.store = store
        self.cache = ScoreCache()

    def _brand_posts(self, brand: str, charter: Charter | None, since: datetime, until: datetime) -> list[dict[str, Any]]:
        staff = self.store.member_roles(brand)["staff"]
        posts = []
        for source, sid, author, created, kind, text, digest, permalink, reply_to in \
                self.store.texts_by_author(brand, staff, since, until):
            if reply_to is not None:
                continue
            key = (brand, f"{digest}:{charter.title if charter else ''}")
            result = self.cache.get(key, lambda t=text: check_text(t, charter=charter, with_rewrite=False))
            posts.append({"id": sid, "source": source, "created_at": created, "text": text, "permalink": permalink,
                          "result": result, "asks": len(R.ASKS.findall(text)) + len(R.SMS_ASKS.findall(text))})
        return posts

    def stats(self, brand: str, charter: Charter | None, *, now: datetime, window_days: int = 30) -> FeedStats:
        """Promotional counts of the brand's posts over the window ending at `now`."""
        posts = self._brand_posts(brand, charter, now - timedelta(days=window_days), now)
        flags = [p["result"].promotional for p in posts]
        return FeedStats(brand_posts=len(posts), promotional_posts=sum(flags), recent_promotional=flags[-10:])

    def report(self, brand: str, charter: Charter | None, *, now: datetime, window_days: int) -> dict[str, Any]:
        """The drift audit of the brand's own feed over the window."""
        since = now - timedelta(days=window_days)
        posts = self._brand_posts(brand, charter, since, now)
        roles = self.store.member_roles(brand)
        rows = self.store.window_rows(brand, since, now)
        weeks = max(1.0, window_days / 7)
        promo = sum(p["result"].promotional for p in posts)
        policy = charter.promotion_policy if charter else None
        brand_msgs = sum((r[0], r[2]) in roles["staff"] for r in rows)
        unack = _unacknowledged(rows, roles, now)
        return {
            "window": {"since": since, "until": now, "days": window_days},
            "brand_posts": len(posts), "promotional_posts": promo,
            "promo_share": round(promo / len(posts), 4) if posts else 0.0,
            "max_promotional_share": policy.max_promotional_share if policy else None,
            "over_quota": bool(policy and policy.max_promotional_share is not None and posts
                               and promo / len(posts) > policy.max_promotional_share),
            "quota_passage_id": policy.passage_id if policy else None,
            "asks_total": sum(p["asks"] for p in posts),
            "asks_per_week": round(sum(p["asks"] for p in posts) / weeks, 2),
            "member_contributions": unack["contributions"], "unacknowledged": unack["count"],
            "unacknowledged_share": round(unack["count"] / unack["contributions"], 4) if unack["contributions"] else 0.0,
            "unacknowledged_examples": unack["examples"],
            "messages": len(rows), "brand_messages": brand_msgs,
            "brand_share": round(brand_msgs / len(rows), 4) if rows else 0.0,
            "weekly": _weekly(posts, rows, roles, since, now),
            "worst_posts": _worst(posts),
            "definitions": DEFINITIONS,
        }


def _unacknowledged(rows: list[tuple[Any, ...]], roles: dict[str, Any], now: datetime) -> dict[str, Any]:
    excluded = roles["staff"] | roles["bot"] | roles["no_analytics"]
    authors = {(r[0], r[1]): r[2] for r in rows}
    acked: set[tuple[str, str]] = set()
    for source, _sid, author, _c, _k, reply_to, _t, _rc, _s, _ch in rows:
        if reply_to is not None and authors.get((source, reply_to), object()) != author:
            acked.add((source, reply_to))
    contributions, left = 0, []
    for source, sid, author, created, kind, reply_to, _t, reactions, _s, channel in rows:
        if kind not in ("question", "post") or reply_to is not None or (source, author) in excluded or not author:
            continue
        if now - created < ACK_GRACE:
            continue
        contributions += 1
        if reactions == 0 and (source, sid) not in acked:
            left.append({"id": sid, "source": source, "author": author, "channel": channel, "created_at": created})
    return {"contributions": contributions, "count": len(left), "examples": left[-10:]}


def _weekly(posts: list[dict[str, Any]], rows: list[tuple[Any, ...]], roles: dict[str, Any], since: datetime,
            now: datetime) -> list[dict[str, Any]]:
    n_weeks = max(1, -(-(now - since).days // 7))
    buckets: list[dict[str, Any]] = [{"posts": [], "messages": 0, "brand": 0} for _ in range(n_weeks)]

    def index(moment: datetime) -> int:
        return min(n_weeks - 1, max(0, (moment - since).days // 7))

    for p in posts:
        buckets[index(p["created_at"])]["posts"].append(p)
    for r in rows:
        b = buckets[index(r[3])]
        b["messages"] += 1
        b["brand"] += (r[0], r[2]) in roles["staff"]
    out = []
    for i, b in enumerate(buckets):
        wk_posts = b["posts"]
        promo = sum(p["result"].promotional for p in wk_posts)
        out.append({"week_start": since + timedelta(days=7 * i), "brand_posts": len(wk_posts), "promotional_posts": promo,
                    "promo_share": round(promo / len(wk_posts), 4) if wk_posts else 0.0,
                    "asks": sum(p["asks"] for p in wk_posts), "messages": b["messages"],
                    "brand_share": round(b["brand"] / b["messages"], 4) if b["messages"] else 0.0,
                    "mean_drift_score": round(sum(p["result"].score for p in wk_posts) / len(wk_posts), 4)
                    if wk_posts else 0.0})
    return out


def _worst(posts: list[dict[str, Any]], n: int = 5) -> list[dict[str, Any]]:
    ranked = sorted((p for p in posts if p["result"].verdict != "ok"), key=lambda p: -p["result"].score)[:n]
    return [{"id": p["id"], "source": p["source"], "created_at": p["created_at"], "permalink": p["permalink"],
             "excerpt": p["text"][:280], "score": p["result"].score, "verdict": p["result"].verdict,
             "flags": [f.model_dump() for f in p["result"].flags]} for p in ranked]


def utcnow() -> datetime:
    """Aware current time (the API passes it in; tests pin it)."""
    return datetime.now(timezone.utc)
