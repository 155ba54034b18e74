"""The data behind each desk page, read from the services (review, drift, vitality, spotlight); no HTTP here."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from typing import Any

from copilot.desk.charts import Chart, nested, series
from copilot.desk.views import age, highlight, plain, split_citations, word_diff
from copilot.errors import InvalidInput
from copilot.features.charters import current_charter
from copilot.features.drift import check_text
from copilot.features.rituals import failing_guards
from copilot.review import STATUSES, TRANSITIONS
from copilot.runtime import Copilot

PAGE_SIZE = 50
AGES = {"1": 1, "7": 7, "30": 30}  # the queue's "created within" filter, in days


def queue(copilot: Copilot, brand: str, query: dict[str, str], *, now: datetime | None = None) -> dict[str, Any]:
    """Drafts of the brand, newest first, filtered by status, ritual, author and age, with per-filter counts."""
    status, ritual, author, within = (query.get(k) or None for k in ("status", "ritual", "author", "age"))
    if status is not None and status not in STATUSES:
        raise InvalidInput(f"status must be one of {', '.join(STATUSES)}", field="status")
    if within is not None and within not in AGES:
        raise InvalidInput(f"age must be one of {', '.join(AGES)} (days)", field="age")
    offset = _offset(query.get("offset"))
    now = now or datetime.now(timezone.utc)
    since = now - timedelta(days=AGES[within]) if within else None
    rows, total = copilot.store.list_drafts(brand, status=status, ritual=ritual, created_by=author, since=since,
                                            limit=PAGE_SIZE, offset=offset)
    items = [{"row": r, "age": age(r.created_at, now=now), "guards_ok": not failing_guards((r.payload or {}).get("guards") or {})}
             for r in rows]
    return {"items": items, "total": total, "offset": offset, "page_size": PAGE_SIZE,
            "facets": copilot.store.draft_facets(brand), "statuses": STATUSES, "ages": list(AGES),
            "filters": {"status": status, "ritual": ritual, "author": author, "age": within}}


def _offset(value: str | None) -> int:
    if not value:
        return 0
    if not value.isdigit() or int(value) > 10_000_000:
        raise InvalidInput("offset must be a whole number of drafts to skip", field="offset")
    return int(value)


def draft(copilot: Copilot, row: Any, *, allows: Any) -> dict[str, Any]:
    """A draft with its highlighted text, grounding, guards, revisions (with word diffs) and decisions."""
    payload = plain(row.payload or {})
    charter, charter_version = current_charter(copilot.store, row.brand_id)
    flags = plain(check_text(row.body, charter=charter, with_rewrite=False).flags)  # the guards' own check
    passages = {p.id: p.text for p in (charter.passages if charter else [])}
    passage_ids, message_ids = split_citations(list(payload.get("citations") or []), set(passages))
    editions = [e.get("id") for e in (payload.get("grounding") or {}).get("past_editions") or [] if e.get("id")]
    messages = copilot.store.messages_by_source_id(row.brand_id, [*message_ids, *editions])
    history = plain(copilot.review.history(row.id))
    revisions = history["revisions"]
    for before, after in zip([None, *revisions], revisions):
        after["diff"] = word_diff(before["body"] if before else "", after["body"]) if before else None
    guards = payload.get("guards") or {}
    return {"row": row, "payload": payload, "segments": highlight(row.body, flags), "flags": flags,
            "charter_version": charter_version,
            "cited_passages": [{"id": p, "text": passages[p]} for p in passage_ids],
            "cited_messages": [{"id": m, "message": messages.get(m)} for m in message_ids],
            "past_editions": [{"id": e, "message": messages.get(e)} for e in editions],
            "guards": guards, "failing": failing_guards(guards) if guards else [],
            "revisions": list(reversed(revisions)), "decisions": list(reversed(history["decisions"])),
            "actions": [a for a, (sources, _, scope) in TRANSITIONS.items() if row.status in sources and allows(scope)],
            "editable": row.status in {"drafted", "in_review", "changes_requested"} and allows("draft")}


def dashboard(copilot: Copilot, brand: str) -> dict[str, Any]:
    """Vitality with charts, weak-signal alerts, spotlight suggestions and the drift report of the brand's feed."""
    # The three reports read the same snapshot independently; their numpy work overlaps when run side by side.
    with ThreadPoolExecutor(max_workers=3, thread_name_prefix="desk-dashboard") as pool:
        spotlight_job = pool.submit(copilot.spotlight.suggest, brand, window_days=30, limit=5)
        drift_job = pool.submit(copilot.drift.report, brand, window_days=30)
        vitality = plain(copilot.vitality.report(brand, window_days=28))
        spotlight, drift = plain(spotlight_job.result()), plain(drift_job.result())
    weekly = vitality.get("weekly") or []
    cohorts = ((vitality.get("kpis") or {}).get("retention") or {}).get("cohorts") or []
    charts: list[Chart] = [
        series("participation", weekly, nested("active_members")),
        series("retention", cohorts, nested("week_1"), percent=True),
        series("member_to_member", weekly, nested("member_to_member_reply_share"), percent=True),
        series("responsiveness", weekly, nested("median_first_response_hours")),
    ]
    alerts = vitality.get("alerts") or []
    uids = [u for a in alerts for u in (a.get("evidence") or {}).get("message_ids") or []]
    linked = copilot.store.get_messages(brand, uids) if uids else {}
    for post in drift.get("worst_posts") or []:  # flags outside the excerpt are listed, not highlighted
        post["segments"] = highlight(post.get("excerpt") or "", post.get("flags") or [])
    return {"vitality": vitality, "charts": charts, "alerts": alerts, "alert_messages": linked,
            "spotlight": spotlight, "drift": drift}
