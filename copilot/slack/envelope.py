"""Slack requests before the app sees them: signature and replay window on the raw bytes, size and nesting
checked without recursion, then typed payloads (pydantic) so listeners only ever read validated fields."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from typing import Annotated, Any, Literal
from urllib.parse import parse_qsl

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from copilot.errors import SlackPayloadInvalid
from copilot.ingest.slack import message_record
from copilot.slack import blocks as B
from copilot.types import MemberRecord, MessageRecord

REPLAY_WINDOW_S = 300
MAX_ENVELOPE_BYTES = 1_000_000
MAX_JSON_DEPTH = 64
MAX_FORM_FIELDS = 100
GROUP_CACHE_S = 60.0
SLACK_RESPONSE_ORIGINS = ("https://hooks.slack.com/",)
HANDLED_EVENTS = frozenset({"message", "reaction_added", "reaction_removed"})
_JSON_SPECIAL = re.compile(r'[\\"\[\]{}]')


def verify(signing_secret: str, body: bytes, timestamp: str | None, signature: str | None, *,
           now: float | None = None) -> str | None:
    """None when the request is authentic and fresh; otherwise why not (never parses the body)."""
    if not timestamp or not signature:
        return "missing Slack signature headers"
    if not re.fullmatch(r"[0-9]{1,12}", timestamp):
        return "invalid Slack timestamp"
    if abs((now or time.time()) - int(timestamp)) > REPLAY_WINDOW_S:
        return "stale Slack request (outside the 5-minute replay window)"
    # Slack's v0 scheme over the raw bytes (slack_sdk's verifier decodes them first: a 500 on non-UTF-8 bodies).
    base = b"v0:" + timestamp.encode() + b":" + body
    expected = "v0=" + hmac.new(signing_secret.encode(), base, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected.encode(), signature.encode()):
        return "invalid Slack signature"
    return None


def nesting_exceeds(text: str, limit: int) -> bool:
    """Whether JSON text nests brackets deeper than `limit`: one pass over its quotes, escapes and brackets,
    skipping those inside strings (no recursion, no backtracking)."""
    depth, in_string, escaped_at = 0, False, -1
    for match in _JSON_SPECIAL.finditer(text):
        at, char = match.start(), match.group()
        if at == escaped_at:
            continue
        if in_string:
            if char == "\\":
                escaped_at = at + 1
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > limit:
                return True
        elif char in "]}":
            depth -= 1
    return False


def read_envelope(body: bytes, content_type: str | None) -> dict[str, Any]:
    """The object Slack sent: an Events API body, an interaction's `payload`, or a slash command's form."""
    if len(body) > MAX_ENVELOPE_BYTES:
        raise SlackPayloadInvalid(f"Slack body over {MAX_ENVELOPE_BYTES} bytes", field="body")
    try:
        text = body.decode("utf-8")
        if not (content_type or "").startswith("application/json"):
            form = dict(parse_qsl(text, keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS))
            if "payload" not in form:
                return form
            text = form["payload"]
    except ValueError as exc:  # undecodable bytes, or too many form fields
        raise SlackPayloadInvalid(f"unreadable Slack body: {type(exc).__name__}", field="body") from exc
    if nesting_exceeds(text, MAX_JSON_DEPTH):
        raise SlackPayloadInvalid(f"Slack JSON nested deeper than {MAX_JSON_DEPTH} levels", field="body")
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise SlackPayloadInvalid("Slack body is not valid JSON", field="body") from exc
    if not isinstance(data, dict):
        raise SlackPayloadInvalid("Slack JSON must be an object", field="body")
    return data


# ---------------------------------------------------------------- the payloads this app reads, typed
SlackId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._-]{1,64}$")]  # no "/": ids build brand keys
UserId = Annotated[str, StringConstraints(pattern=r"^[UW][A-Z0-9]{1,20}$")]
Ts = Annotated[str, StringConstraints(pattern=r"^[0-9]{1,10}(\.[0-9]{1,6})?$")]
Short = Annotated[str, StringConstraints(max_length=200)]


class _Slack(BaseModel):
    """Slack objects: unknown fields dropped, known ones typed and bounded."""

    model_config = ConfigDict(extra="ignore", frozen=True)


class Ref(_Slack):
    """`{"id": …}` (a workspace or a channel)."""

    id: SlackId


class Clicker(_Slack):
    """The person who clicked."""

    id: UserId
    username: Short | None = None
    name: Short | None = None


class Button(_Slack):
    """The button clicked."""

    action_id: Short
    value: Short
    block_id: Short | None = None


class InputValue(_Slack):
    """What an input holds."""

    value: Annotated[str, StringConstraints(max_length=3000)] | None = None


class State(_Slack):
    """The message's inputs, by block and action id."""

    values: dict[Short, dict[Short, InputValue]] = Field(default_factory=dict)


class MessageRef(_Slack):
    """The message a button sits in."""

    ts: Ts


class Interaction(_Slack):
    """A click on a review button (`block_actions`)."""

    type: Literal["block_actions"]
    team: Ref | None = None
    user: Clicker
    channel: Ref | None = None
    message: MessageRef | None = None
    actions: list[Button] = Field(min_length=1, max_length=1)
    state: State | None = None
    response_url: Annotated[str, StringConstraints(max_length=2000)] | None = None

    def where(self) -> tuple[str | None, str | None]:
        """Workspace and channel."""
        return (self.team.id if self.team else None), (self.channel.id if self.channel else None)

    def comment(self) -> str | None:
        """What the reviewer typed in the comment box."""
        field = (self.state.values if self.state else {}).get(B.COMMENT_BLOCK, {}).get(B.COMMENT_ACTION)
        return field.value if field else None


class Command(_Slack):
    """A `/copilot` slash command."""

    command: Short
    text: Annotated[str, StringConstraints(max_length=4000)] = ""
    team_id: SlackId
    channel_id: SlackId
    user_id: SlackId
    user_name: Short | None = None
    response_url: Annotated[str, StringConstraints(max_length=2000)]

    def where(self) -> tuple[str | None, str | None]:
        """Workspace and channel."""
        return self.team_id, self.channel_id


class Reaction(_Slack):
    """An emoji reaction count."""

    name: Short
    count: int | None = Field(default=None, ge=0, le=10_000_000)


class Profile(_Slack):
    """The author's profile as a message carries it."""

    display_name: Short | None = None


class SlackMessage(_Slack):
    """A message, as `message_record` reads it."""

    ts: Ts
    text: str | None = None
    user: SlackId | None = None
    bot_id: SlackId | None = None
    username: Short | None = None
    thread_ts: Ts | None = None
    reactions: list[Reaction] = Field(default_factory=list, max_length=200)
    user_profile: Profile | None = None


class Item(_Slack):
    """What a reaction is on."""

    type: Short
    channel: SlackId | None = None
    ts: Ts | None = None


class Event(_Slack):
    """A message or reaction event."""

    type: Short
    subtype: Short | None = None
    channel: SlackId | None = None
    ts: Ts | None = None
    text: str | None = None
    user: SlackId | None = None
    bot_id: SlackId | None = None
    username: Short | None = None
    thread_ts: Ts | None = None
    reactions: list[Reaction] = Field(default_factory=list, max_length=200)
    user_profile: Profile | None = None
    message: SlackMessage | None = None
    previous_message: SlackMessage | None = None
    deleted_ts: Ts | None = None
    item: Item | None = None
    reaction: Short | None = None


class EventCallback(_Slack):
    """An Events API delivery."""

    type: Literal["event_callback"]
    team_id: SlackId | None = None
    event: Event

    def where(self) -> tuple[str | None, str | None]:
        """Workspace and channel (a reaction's channel is its item's)."""
        return self.team_id, self.event.channel or (self.event.item.channel if self.event.item else None)


class UrlVerification(_Slack):
    """Slack checking the Events API URL."""

    type: Literal["url_verification"]
    challenge: Short


Envelope = Interaction | Command | EventCallback | UrlVerification
_MODELS: dict[str, type[Envelope]] = {"block_actions": Interaction, "event_callback": EventCallback,
                                      "url_verification": UrlVerification}


def typed_envelope(data: dict[str, Any]) -> Envelope | None:
    """The payload as one of the shapes this app handles; None for one it ignores (acknowledged quietly)."""
    kind = data.get("type")
    model = _MODELS.get(kind) if isinstance(kind, str) else (Command if "command" in data else None)
    if model is None:
        return None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "payload"
        raise SlackPayloadInvalid(f"unexpected Slack payload at {where}: {first['msg']}", field=where) from exc


def _handled(envelope: Envelope) -> bool:
    """Whether a listener exists for it; anything else is acknowledged and ignored."""
    if isinstance(envelope, EventCallback):
        return envelope.event.type in HANDLED_EVENTS
    if isinstance(envelope, Interaction):
        return envelope.actions[0].action_id in B.ACTIONS
    return not isinstance(envelope, Command) or envelope.command == "/copilot"


def history_records(event: Event) -> list[MemberRecord | MessageRecord]:
    """What a message event changes in the history (nothing for system subtypes or incomplete events)."""
    channel = event.channel
    if not channel:
        return []
    if event.subtype == "message_deleted":
        previous = event.previous_message.model_dump(exclude_none=True) if event.previous_message else {}
        ts = previous.get("ts") or event.deleted_ts
        return [message_record({**previous, "ts": ts}, channel).model_copy(update={"deleted": True})] if ts else []
    if event.subtype == "message_changed":
        return [message_record(event.message.model_dump(exclude_none=True), channel)] if event.message else []
    if event.subtype not in (None, "bot_message", "thread_broadcast", "file_share") or not event.ts:
        return []
    records: list[MemberRecord | MessageRecord] = [message_record(event.model_dump(exclude_none=True), channel)]
    if event.bot_id and not event.user:
        records.insert(0, MemberRecord(source="slack", source_id=event.bot_id, name=event.username or "", role="bot"))
    return records


