"""Drift for one brand: the rules engine with the brand's charter and feed, and an optional LLM judge."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any, Callable, Protocol

from copilot.features.charters import current_charter
from copilot.features.drift import DriftResult, check_text
from copilot.features.feed import Feed, utcnow
from copilot.features.snapshot import Snapshots
from copilot.reports import DriftCheck, FeedQuota, FeedReport
from copilot.store import Store
from copilot.types import Charter


class DriftJudge(Protocol):
    """A second opinion (an LLM) merged with the rules; raises when it cannot answer."""

    def judge(self, text: str, rules: DriftResult, *, charter: Charter | None, feed: dict[str, Any],
              brand: str = "", started: float | None = None) -> DriftResult: ...


class DriftService:
    """Checks texts and audits feeds for the brands in the store."""

    def __init__(self, store: Store, snapshots: Snapshots, *, judge: DriftJudge | None = None,
                 clock: Callable[[], datetime] = utcnow):
        self.store, self.judge, self.clock = store, judge, clock
        self.feed = Feed(store, snapshots)

    def check(self, brand: str, text: str, *, lang: str | None = None, scheduled_at: datetime | None = None) -> DriftCheck:
        """Rules first; the judge (when configured) refines them; if it fails the rules answer, marked degraded."""
        started = time.monotonic()
        charter, version = current_charter(self.store, brand)
        now = scheduled_at or self.clock()
        stats = self.feed.stats(brand, charter, now=now)
        result = check_text(text, charter=charter, feed=stats, lang=lang)
        feed = {"brand_posts": stats.brand_posts, "promotional_posts": stats.promotional_posts,
                "promo_share": round(stats.promo_share, 4),
                "max_promotional_share": charter.promotion_policy.max_promotional_share if charter else None}
        if self.judge is not None:
            try:
                result = self.judge.judge(text, result, charter=charter, feed=feed, brand=brand, started=started)
            except Exception as exc:  # any judge failure: the rules stand, and the response says why
                result = result.model_copy(update={"degraded": True, "degraded_reason": f"llm judge failed: {exc}"})
        return DriftCheck(**result.model_dump(), feed=FeedQuota(**feed), charter_version=version)

    def report(self, brand: str, *, window_days: int, now: datetime | None = None) -> FeedReport:
        """The feed audit."""
        charter, _ = current_charter(self.store, brand)
        return self.feed.report(brand, charter, now=now or self.clock(), window_days=window_days)
