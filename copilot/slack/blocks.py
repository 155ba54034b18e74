"""Pure Block Kit builders (no I/O)."""

from __future__ import annotations

from typing import Any

COMMENT_BLOCK, COMMENT_ACTION = "review_comment", "comment"
ACTIONS = {"review_approve": ("approve", "Approve", "primary"),
           "review_request_changes": ("request_changes", "Request changes", None),
           "review_reject": ("reject", "Reject", "danger")}


def _text(text: str, limit: int = 2900) -> dict[str, str]:
    return {"type": "mrkdwn", "text": text[:limit]}


def review_message(draft: Any) -> list[dict[str, Any]]:
    """A draft for editors: its text, guard results, a comment box and the three review buttons."""
    guards = (draft.payload or {}).get("guards", {})
    drift = guards.get("drift", {})
    meta = f"{draft.kind} · {draft.ritual or ''} · engine {draft.payload.get('engine', 'rules')} · v{draft.version}" \
           f" · drift {drift.get('verdict', '?')}"
    buttons = []
    for action_id, (_, label, style) in ACTIONS.items():
        button: dict[str, Any] = {"type": "button", "action_id": action_id, "value": draft.id,
                                  "text": {"type": "plain_text", "text": label}}
        if style:
            button["style"] = style
        buttons.append(button)
    return [
        {"type": "header", "text": {"type": "plain_text", "text": draft.title[:150]}},
        {"type": "section", "text": _text(draft.body)},
        {"type": "context", "elements": [_text(meta, 300)]},
        {"type": "input", "block_id": COMMENT_BLOCK, "optional": True,
         "label": {"type": "plain_text", "text": "Comment"},
         "element": {"type": "plain_text_input", "action_id": COMMENT_ACTION, "multiline": True}},
        {"type": "actions", "block_id": "review_actions", "elements": buttons},
    ]


def decided_message(draft: Any, actor: str, comment: str | None) -> list[dict[str, Any]]:
    """The same draft once decided: no more buttons."""
    lines = f"*{draft.status.replace('_', ' ')}* by {actor}" + (f": {comment}" if comment else "")
    return [{"type": "header", "text": {"type": "plain_text", "text": draft.title[:150]}},
            {"type": "section", "text": _text(draft.body)}, {"type": "context", "elements": [_text(lines, 300)]}]


def drift_blocks(result: dict[str, Any]) -> list[dict[str, Any]]:
    """A drift check answer."""
    flags = ", ".join(sorted({f["type"] for f in result["flags"]})) or "none"
    text = f"*{result['verdict']}* (score {result['score']}) · flags: {flags}"
    blocks = [{"type": "section", "text": _text(text)}]
    if result.get("rewrite"):
        blocks.append({"type": "section", "text": _text(f"Member-first rewrite:\n>{result['rewrite']}")})
    return blocks


def text_blocks(text: str) -> list[dict[str, Any]]:
    """One section of text."""
    return [{"type": "section", "text": _text(text)}]
