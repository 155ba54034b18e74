"""A brand's LLM usage per day: the report editors read and the daily token budget the LLM client checks."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from pydantic import Field

from copilot.report import Report
from copilot.store import Store


class UsageDay(Report):
    """LLM calls of one day (or the totals, `day` then being the first day followed by `..`)."""

    day: str = Field(description="YYYY-MM-DD (UTC)")
    calls: int
    failures: int
    prompt_tokens: int
    completion_tokens: int
    cost: float = Field(description="USD, from litellm's local price table")


class UsageOut(Report):
    """LLM usage of a brand per day."""

    brand: str
    days: list[UsageDay] = Field(description="days with at least one call, oldest first")
    totals: UsageDay


def usage_report(store: Store, brand: str, *, days: int, now: datetime | None = None) -> UsageOut:
    """The brand's usage over the last `days` days, today included."""
    since = ((now or datetime.now(timezone.utc)) - timedelta(days=days - 1)).date().isoformat()
    rows = [UsageDay(day=r.day, calls=r.calls, failures=r.failures, prompt_tokens=r.prompt_tokens,
                     completion_tokens=r.completion_tokens, cost=round(r.cost, 6))
            for r in store.usage_by_day(brand, since)]
    totals = UsageDay(day=f"{since}..", calls=sum(r.calls for r in rows), failures=sum(r.failures for r in rows),
                      prompt_tokens=sum(r.prompt_tokens for r in rows),
                      completion_tokens=sum(r.completion_tokens for r in rows),
                      cost=round(sum(r.cost for r in rows), 6))
    return UsageOut(brand=brand, days=rows, totals=totals)


def tokens_used(store: Store, brand: str, day: str) -> int:
    """Prompt and completion tokens the brand spent on one day (YYYY-MM-DD)."""
    return sum(r.prompt_tokens + r.completion_tokens for r in store.usage_by_day(brand, day) if r.day == day)
