"""Pure Block Kit builders (no I/O).

Every text that is not the product's own formatting (draft titles and bodies, member names, comments, drift
rewrites, vitality figures, error details, spotlight lines) goes through `escape_mrkdwn`, so community text
reaches Slack inert: no `<!channel>`, no `<@U…>` mention, no `<https://…|disguised>` link, no quote.
"""

from __future__ import annotations

import re
from typing import Any

COMMENT_BLOCK, COMMENT_ACTION = "review_comment", "comment"
ACTIONS = {"review_approve": ("approve", "Approve", "primary"),
           "review_request_changes": ("request_changes", "Request changes", None),
           "review_reject": ("reject", "Reject", "danger")}
USAGE = "Usage: /copilot ritual <name> · spotlight · check <text> · vitality"
NOT_LINKED = "This workspace is not linked to a brand yet."
HEADER_LIMIT, SECTION_LIMIT, CONTEXT_LIMIT = 150, 2900, 300
_BUTTON_VALUE = re.compile(r"([A-Za-z0-9_-]{1,64}):([0-9]{1,9})")


def escape_mrkdwn(text: str) -> str:
    """Slack's three control characters as entities; Slack shows them as typed and parses nothing in them."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _clip(text: str, limit: int) -> str:
    """At most `limit` characters of escaped text, never cutting an entity in half."""
    if len(text) <= limit:
        return text
    cut = text[:limit]
    amp = cut.rfind("&")
    return cut[:amp] if amp != -1 and ";" not in cut[amp:] else cut


def _mrkdwn(formatted: str, limit: int = SECTION_LIMIT) -> dict[str, str]:
    """A mrkdwn text object from text whose untrusted parts are already escaped."""
    return {"type": "mrkdwn", "text": _clip(formatted, limit)}


def _plain(text: str, limit: int) -> dict[str, str]:
    return {"type": "plain_text", "text": _clip(escape_mrkdwn(text), limit)}


def button_value(draft: Any) -> str:
    """`draft_id:version`: a click decides on the version the message showed."""
    return f"{draft.id}:{draft.version}"


def parse_button_value(value: str) -> tuple[str, int] | None:
    """(draft id, version) from a review button, or None for a malformed or pre-version button."""
    m = _BUTTON_VALUE.fullmatch(value)
    return (m.group(1), int(m.group(2))) if m else None


def review_message(draft: Any) -> list[dict[str, Any]]:
    """A draft for editors: its text, guard results, a comment box and the three review buttons."""
    payload = draft.payload or {}
    drift = (payload.get("guards") or {}).get("drift") or {}
    meta = f"{draft.kind} · {draft.ritual or ''} · engine {payload.get('engine', 'rules')} · v{draft.version}" \
           f" · drift {drift.get('verdict', '?')}"
    buttons = []
    for action_id, (_, label, style) in ACTIONS.items():
        button: dict[str, Any] = {"type": "button", "action_id": action_id, "value": button_value(draft),
                                  "text": {"type": "plain_text", "text": label}}
        if style:
            button["style"] = style
        buttons.append(button)
    return [
        {"type": "header", "text": _plain(draft.title, HEADER_LIMIT)},
        {"type": "section", "text": _mrkdwn(escape_mrkdwn(draft.body))},
        {"type": "context", "elements": [_mrkdwn(escape_mrkdwn(meta), CONTEXT_LIMIT)]},
        {"type": "input", "block_id": COMMENT_BLOCK, "optional": True,
         "label": {"type": "plain_text", "text": "Comment"},
         "element": {"type": "plain_text_input", "action_id": COMMENT_ACTION, "multiline": True}},
        {"type": "actions", "block_id": "review_actions", "elements": buttons},
    ]


def review_text(draft: Any) -> str:
    """The notification text of a draft sent for review."""
    return f"Draft to review: {escape_mrkdwn(draft.title)}"


def decided_message(draft: Any, actor: str, comment: str | None) -> list[dict[str, Any]]:
    """The same draft once decided: no more buttons."""
    line = f"*{escape_mrkdwn(draft.status.replace('_', ' '))}* by {escape_mrkdwn(actor)}" \
           + (f": {escape_mrkdwn(comment)}" if comment else "")
    return [{"type": "header", "text": _plain(draft.title, HEADER_LIMIT)},
            {"type": "section", "text": _mrkdwn(escape_mrkdwn(draft.body))},
            {"type": "context", "elements": [_mrkdwn(line, CONTEXT_LIMIT)]}]


def decided_text(draft: Any) -> str:
    """The notification text of a decided draft."""
    return f"{escape_mrkdwn(draft.title)}: {escape_mrkdwn(draft.status.replace('_', ' '))}"


def drift_blocks(result: dict[str, Any]) -> list[dict[str, Any]]:
    """A drift check answer."""
    flags = ", ".join(sorted({str(f["type"]) for f in result["flags"]})) or "none"
    text = f"*{escape_mrkdwn(str(result['verdict']))}* (score {result['score']}) · flags: {escape_mrkdwn(flags)}"
    blocks = [{"type": "section", "text": _mrkdwn(text)}]
    if result.get("rewrite"):
        quoted = "\n".join(">" + escape_mrkdwn(line) for line in str(result["rewrite"]).split("\n"))
        blocks.append({"type": "section", "text": _mrkdwn(f"Member-first rewrite:\n{quoted}")})
    return blocks


def ritual_blocks(draft: Any) -> list[dict[str, Any]]:
    """A ritual drafted from a slash command."""
    engine = (draft.payload or {}).get("engine", "rules")
    return [{"type": "section", "text": _mrkdwn(
        f"*{escape_mrkdwn(draft.title)}*\n{escape_mrkdwn(draft.body)}\n"
        f"_draft {escape_mrkdwn(str(draft.id))}, engine {escape_mrkdwn(str(engine))}_")}]


def spotlight_blocks(suggestions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Members to spotlight, one line each."""
    lines = [f"• *{escape_mrkdwn(str(s['member']['name']))}* ({escape_mrkdwn(str(s['score']))}): "
             f"{escape_mrkdwn(str(s['why']))}" for s in suggestions]
    return [{"type": "section", "text": _mrkdwn("\n".join(lines) or "No one to suggest in this window.")}]


def vitality_blocks(kpis: dict[str, Any]) -> list[dict[str, Any]]:
    """The headline vitality figures."""
    p, h, r = kpis["participation"], kpis["horizontality"], kpis["responsiveness"]
    return text_blocks(f"Active members: {p['active_members']} / {p['known_members']} · "
                       f"member-to-member replies: {h['member_to_member_reply_share']:.0%} · "
                       f"median first response: {r['median_first_response_hours']} h")


def warning_blocks(detail: str) -> list[dict[str, Any]]:
    """An error or a refusal, for the person who asked."""
    return [{"type": "section", "text": _mrkdwn(f":warning: {escape_mrkdwn(detail)}")}]


def working_on(sub: str) -> str:
    """The immediate acknowledgement of a slash command."""
    return f"On it: `{escape_mrkdwn(sub[:40])}`…"


def text_blocks(text: str) -> list[dict[str, Any]]:
    """One section of plain words (escaped: no formatting, mention or link survives)."""
    return [{"type": "section", "text": _mrkdwn(escape_mrkdwn(text))}]
