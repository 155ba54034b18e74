"""The Slack app (slack_bolt, async) served by the same process: slash commands, review buttons and live
history events. Request signatures are checked by `verify` before anything is parsed."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncApp
from slack_bolt.authorization import AuthorizeResult
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from copilot.errors import CopilotError
from copilot.ingest.slack import message_record
from copilot.slack import blocks as B
from copilot.types import MemberRecord

log = logging.getLogger("copilot.slack")
REPLAY_WINDOW_S = 300
USAGE = "Usage: /copilot ritual <name> · spotlight · check <text> · vitality"


def verify(signing_secret: str, body: bytes, timestamp: str | None, signature: str | None, *,
           now: float | None = None) -> str | None:
    """None when the request is authentic and fresh; otherwise why not (never parses the body)."""
    if not timestamp or not signature:
        return "missing Slack signature headers"
    try:
        age = abs((now or time.time()) - int(timestamp))
    except ValueError:
        return "invalid Slack timestamp"
    if age > REPLAY_WINDOW_S:
        return "stale Slack request (outside the 5-minute replay window)"
    if not SignatureVerifier(signing_secret).is_valid(body=body, timestamp=timestamp, signature=signature):
        return "invalid Slack signature"
    return None


class SlackIntegration:
    """Bolt app wired to the copilot runtime."""

    def __init__(self, copilot: Any, *, signing_secret: str, bot_token: str, api_url: str,
                 brands: dict[str, str], review_channel: str | None):
        self.copilot, self.brands, self.review_channel = copilot, brands, review_channel
        self.signing_secret = signing_secret
        self.client = AsyncWebClient(token=bot_token, base_url=api_url)

        async def authorize(enterprise_id: Any = None, team_id: Any = None, **_: Any) -> AuthorizeResult:
            # One bot token for every linked workspace: no auth.test round trip per request.
            return AuthorizeResult(enterprise_id=enterprise_id, team_id=team_id, bot_token=bot_token,
                                   bot_id="B-copilot", bot_user_id="U-copilot")

        self.app = AsyncApp(client=self.client, signing_secret=signing_secret, authorize=authorize,
                            request_verification_enabled=True, process_before_response=False)
        self.handler = AsyncSlackRequestHandler(self.app)
        self._register()

    def brand_for(self, team: str | None, channel: str | None) -> str | None:
        """The brand a workspace (or one of its channels) maps to."""
        return self.brands.get(f"{team}/{channel}") or self.brands.get(team or "")

    async def handle(self, request: Any) -> Any:
        """Hand a verified Starlette request to bolt."""
        return await self.handler.handle(request)

    def _register(self) -> None:
        app = self.app
        app.command("/copilot")(self._command)
        for action_id in B.ACTIONS:
            app.action(action_id)(self._review_action)
        app.event("message")(self._message_event)
        app.event("reaction_added")(self._reaction_event)
        app.event("reaction_removed")(self._reaction_event)

    # ---------------------------------------------------------------- slash command
    async def _command(self, ack: Any, body: dict[str, Any], respond: Any) -> None:
        brand = self.brand_for(body.get("team_id"), body.get("channel_id"))
        if brand is None:
            await ack("This workspace is not linked to a brand yet.")
            return
        sub, _, arg = (body.get("text") or "").strip().partition(" ")
        await ack(f"On it: `{sub or 'help'}`…")  # within Slack's 3 seconds; the answer follows
        actor = f"slack:{body.get('user_name') or body.get('user_id')}"
        try:
            blocks = await asyncio.to_thread(self._run_command, brand, sub.lower(), arg.strip(), actor)
        except CopilotError as exc:
            blocks = B.text_blocks(f":warning: {exc.detail}")
        await respond(blocks=blocks, text="copilot", response_type="ephemeral")

    def _run_command(self, brand: str, sub: str, arg: str, actor: str) -> list[dict[str, Any]]:
        c = self.copilot
        if sub == "ritual" and arg:
            from copilot.features.rituals import RitualRequest

            draft = c.rituals.draft(brand, RitualRequest(ritual=arg), actor=actor)
            return B.text_blocks(f"*{draft.title}*\n{draft.body}\n_draft {draft.id}, engine {draft.payload['engine']}_")
        if sub == "spotlight":
            out = c.spotlight.suggest(brand, limit=3)
            lines = [f"• *{s['member']['name']}* ({s['score']}): {s['why']}" for s in out["suggestions"]]
            return B.text_blocks("\n".join(lines) or "No one to suggest in this window.")
        if sub == "check" and arg:
            return B.drift_blocks(c.drift.check(brand, arg))
        if sub == "vitality":
            k = c.vitality.report(brand)["kpis"]
            return B.text_blocks(
                f"Active members: {k['participation']['active_members']} / {k['participation']['known_members']} · "
                f"member-to-member replies: {k['horizontality']['member_to_member_reply_share']:.0%} · "
                f"median first response: {k['responsiveness']['median_first_response_hours']} h")
        return B.text_blocks(USAGE)

    # ---------------------------------------------------------------- review buttons
    async def _review_action(self, ack: Any, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        decision = B.ACTIONS[action["action_id"]][0]
        draft_id = action["value"]
        state = ((body.get("state") or {}).get("values") or {}).get(B.COMMENT_BLOCK, {})
        comment = (state.get(B.COMMENT_ACTION) or {}).get("value")
        user = body.get("user") or {}
        actor = f"slack:{user.get('username') or user.get('name') or user.get('id')}"
        brand = self.brand_for((body.get("team") or {}).get("id"), (body.get("channel") or {}).get("id"))
        try:
            draft = await asyncio.to_thread(self.copilot.review.decide, draft_id, action=decision, comment=comment,
                                            actor=actor, brand=brand)
            blocks = B.decided_message(draft, actor, comment)
        except CopilotError as exc:
            blocks = B.text_blocks(f":warning: {exc.detail}")
        channel = (body.get("channel") or {}).get("id")
        ts = (body.get("message") or {}).get("ts")
        if channel and ts:
            await self.client.chat_update(channel=channel, ts=ts, blocks=blocks, text="review")

    async def send_for_review(self, draft: Any) -> dict[str, Any]:
        """Post a draft to the editors' channel with the review buttons."""
        if not self.review_channel:
            raise CopilotError("no Slack review channel configured (COPILOT_SLACK_REVIEW_CHANNEL)")
        resp = await self.client.chat_postMessage(channel=self.review_channel, blocks=B.review_message(draft),
                                                   text=f"Draft to review: {draft.title}")
        return {"channel": resp.get("channel"), "ts": resp.get("ts")}

    # ---------------------------------------------------------------- live history
    async def _message_event(self, body: dict[str, Any], event: dict[str, Any]) -> None:
        brand = self.brand_for(body.get("team_id"), event.get("channel"))
        if brand is None:
            return
        subtype = event.get("subtype")
        channel = event["channel"]
        if subtype == "message_deleted":
            prev = event.get("previous_message") or {"ts": event.get("deleted_ts")}
            record = message_record({**prev, "ts": prev.get("ts") or event.get("deleted_ts")}, channel)
            records = [record.model_copy(update={"deleted": True})]
        elif subtype == "message_changed":
            records = [message_record(event["message"], channel)]
        elif subtype in (None, "bot_message", "thread_broadcast", "file_share"):
            records = [message_record(event, channel)]
            if event.get("bot_id") and not event.get("user"):
                records.insert(0, MemberRecord(source="slack", source_id=event["bot_id"], name=event.get("username") or "",  # type: ignore[arg-type]
                                               role="bot"))
        else:
            return
        await asyncio.to_thread(self.copilot.ingestor.ingest, brand, records)

    async def _reaction_event(self, body: dict[str, Any], event: dict[str, Any]) -> None:
        item = event.get("item") or {}
        brand = self.brand_for(body.get("team_id"), item.get("channel"))
        if brand is None or item.get("type") != "message":
            return
        await asyncio.to_thread(self._apply_reaction, brand, item["channel"], item["ts"], event.get("reaction", "?"),
                                1 if event.get("type") == "reaction_added" else -1)

    def _apply_reaction(self, brand: str, channel: str, ts: str, name: str, delta: int) -> None:
        from copilot.types import MessageRecord

        uid = f"slack:{channel}/{ts}"
        row = self.copilot.store.get_messages(brand, [uid]).get(uid)
        if row is None:
            return
        reactions = dict(row.reactions or {})
        reactions[name] = max(0, reactions.get(name, 0) + delta)
        reactions = {k: v for k, v in reactions.items() if v}
        record = MessageRecord(source="slack", source_id=row.source_id, channel=row.channel, author=row.author,
                               author_name=row.author_name, created_at=row.created_at, title=row.title, text=row.text,
                               reply_to=row.reply_to, thread=row.thread, reactions=reactions, kind=row.kind,  # type: ignore[arg-type]
                               is_solution=row.is_solution, lang=row.lang, permalink=row.permalink)
        self.copilot.ingestor.ingest(brand, [record])


def build(copilot: Any) -> SlackIntegration | None:
    """The integration when a signing secret and a bot token are configured."""
    s = copilot.settings
    if not (s.slack_signing_secret and s.slack_bot_token):
        return None
    return SlackIntegration(copilot, signing_secret=s.slack_signing_secret.get_secret_value(),
                            bot_token=s.slack_bot_token.get_secret_value(), api_url=s.slack_api_url,
                            brands=s.slack_brands, review_channel=s.slack_review_channel)
