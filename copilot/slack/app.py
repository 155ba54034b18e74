"""The Slack app (slack_bolt, async) served by the same process: slash commands, review buttons and live
history events.

Every request goes through one gate, `SlackIntegration.dispatch`, before bolt sees it:

    verify (signature and replay window, on the raw bytes)
      -> read_envelope (size and JSON nesting checked without recursion, then parsed)
      -> typed_envelope (Command | Interaction | EventCallback; malformed -> 400 slack-payload-invalid)
      -> brand_for (an unlinked workspace or channel is answered without reading or changing anything)
      -> bolt, given only the typed fields, with the brand and the typed envelope in its context

A review button also needs the brand's review channel, a reviewer listed for the brand (user or user group)
and a draft of that brand still at the version the message showed.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any, Callable, Mapping, NamedTuple
from urllib.parse import urlsplit

from slack_bolt.async_app import AsyncApp, AsyncBoltRequest
from slack_bolt.authorization import AuthorizeResult
from slack_sdk.errors import SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from copilot.errors import CopilotError, SlackPayloadInvalid, Unauthenticated
from copilot.slack import blocks as B
from copilot.slack.envelope import (GROUP_CACHE_S, SLACK_RESPONSE_ORIGINS, Command, Interaction, UrlVerification,
                                    _handled, history_records, read_envelope, typed_envelope, verify)
from copilot.types import MessageRecord

log = logging.getLogger("copilot.slack")


class Decision(NamedTuple):
    """What an admitted click asks for."""

    draft_id: str
    version: int
    action: str
    channel: str
    ts: str


class SlackAnswer(NamedTuple):
    """What goes back to Slack over HTTP."""

    status: int
    body: str
    headers: dict[str, str]


class Reviewers:
    """Who may decide on a brand's drafts from Slack: listed users (U…/W…) or members of listed user groups (S…)."""

    def __init__(self, client: AsyncWebClient, allowed: dict[str, list[str]], *, ttl_s: float = GROUP_CACHE_S,
                 clock: Callable[[], float] = time.monotonic):
        self.client, self.allowed, self.ttl_s, self.clock = client, allowed, ttl_s, clock
        self._groups: dict[str, tuple[float, frozenset[str]]] = {}

    async def allows(self, brand: str, user_id: str) -> bool:
        """True when the user is listed for the brand, or is in one of its listed user groups."""
        listed = self.allowed.get(brand, [])
        if user_id in {x for x in listed if x[:1] in ("U", "W")}:
            return True
        for group in (x for x in listed if x.startswith("S")):
            if user_id in await self._members(group):
                return True
        return False

    async def _members(self, group: str) -> frozenset[str]:
        cached = self._groups.get(group)
        if cached and cached[0] > self.clock():
            return cached[1]
        try:
            resp = await self.client.usergroups_users_list(usergroup=group)
        except (SlackClientError, OSError, asyncio.TimeoutError) as exc:  # fail closed; the next click asks again
            log.warning("could not list Slack user group %s: %s", group, type(exc).__name__)
            return frozenset()
        members = frozenset(u for u in (resp.get("users") or []) if isinstance(u, str))
        self._groups[group] = (self.clock() + self.ttl_s, members)
        return members


class SlackIntegration:
    """Bolt app wired to the copilot runtime, behind the gate in `dispatch`."""

    def __init__(self, copilot: Any, *, signing_secret: str, bot_token: str, api_url: str, brands: dict[str, str],
                 review_channel: str | None, review_channels: dict[str, str] | None = None,
                 reviewers: dict[str, list[str]] | None = None):
        self.copilot, self.brands, self.signing_secret = copilot, brands, signing_secret
        self.review_channel, self.review_channels = review_channel, review_channels or {}
        self.client = AsyncWebClient(token=bot_token, base_url=api_url)
        self.reviewers = Reviewers(self.client, reviewers or {})
        api = urlsplit(api_url)
        self.response_origins = (*SLACK_RESPONSE_ORIGINS, f"{api.scheme}://{api.netloc}/")

        async def authorize(enterprise_id: Any = None, team_id: Any = None, **_: Any) -> AuthorizeResult:
            # One bot token for every linked workspace: no auth.test round trip per request.
            return AuthorizeResult(enterprise_id=enterprise_id, team_id=team_id, bot_token=bot_token,
                                   bot_id="B-copilot", bot_user_id="U-copilot")

        # Bolt only sees bodies `dispatch` verified on the raw bytes, then re-serialised from the typed envelope,
        # so its own signature check (which needs those raw bytes) is off and its url_verification is ours.
        self.app = AsyncApp(client=self.client, signing_secret=signing_secret, authorize=authorize,
                            request_verification_enabled=False, url_verification_enabled=False,
                            ssl_check_enabled=False, process_before_response=False)
        self._register()

    def brand_for(self, team: str | None, channel: str | None) -> str | None:
        """The brand a workspace (or one of its channels) maps to; None for an unlinked one or no workspace."""
        if not team:
            return None
        return (self.brands.get(f"{team}/{channel}") if channel else None) or self.brands.get(team)

    def review_channel_for(self, brand: str) -> str | None:
        """The channel where a brand's drafts are reviewed."""
        return self.review_channels.get(brand) or self.review_channel

    async def dispatch(self, body: bytes, headers: Mapping[str, str]) -> SlackAnswer:
        """Verify, parse, type and scope a Slack request, then hand it to bolt."""
        problem = verify(self.signing_secret, body, headers.get("x-slack-request-timestamp"),
                         headers.get("x-slack-signature"))
        if problem:
            raise Unauthenticated(problem)
        envelope = typed_envelope(read_envelope(body, headers.get("content-type")))
        if isinstance(envelope, UrlVerification):
            return SlackAnswer(200, json.dumps({"challenge": envelope.challenge}), {"content-type": "application/json"})
        if envelope is None or not _handled(envelope):
            return SlackAnswer(200, "", {})
        url = envelope.response_url if isinstance(envelope, (Command, Interaction)) else None
        if url and not url.startswith(self.response_origins):
            raise SlackPayloadInvalid("response_url is not a Slack URL", field="response_url")
        brand = self.brand_for(*envelope.where())
        if brand is None:
            log.info("ignored a Slack %s from an unlinked workspace or channel", type(envelope).__name__)
            return SlackAnswer(200, B.NOT_LINKED if isinstance(envelope, Command) else "", {})
        request = AsyncBoltRequest(body=envelope.model_dump_json(exclude_none=True),
                                   headers={"content-type": "application/json"},
                                   context={"copilot_brand": brand, "copilot_envelope": envelope})
        answer = await self.app.async_dispatch(request)
        return SlackAnswer(answer.status, answer.body, answer.first_headers_without_set_cookie())

    def _register(self) -> None:
        app = self.app
        app.command("/copilot")(self._command)
        for action_id in B.ACTIONS:
            app.action(action_id)(self._review_action)
        app.event("message")(self._message_event)
        app.event("reaction_added")(self._reaction_event)
        app.event("reaction_removed")(self._reaction_event)

    # ---------------------------------------------------------------- slash command
    async def _command(self, ack: Any, context: Any, respond: Any) -> None:
        brand, command = context["copilot_brand"], context["copilot_envelope"]
        sub, _, arg = command.text.strip().partition(" ")
        await ack(B.working_on(sub or "help"))  # within Slack's 3 seconds; the answer follows
        actor = f"slack:{command.user_name or command.user_id}"
        try:
            blocks = await asyncio.to_thread(self._run_command, brand, sub.lower(), arg.strip(), actor)
        except CopilotError as exc:
            blocks = B.warning_blocks(exc.detail)
        await respond(blocks=blocks, text="copilot", response_type="ephemeral")

    def _run_command(self, brand: str, sub: str, arg: str, actor: str) -> list[dict[str, Any]]:
        c = self.copilot
        if sub == "ritual" and arg:
            from copilot.features.rituals import RitualRequest

            # Slack was answered already (ack) and the response URL stays valid for 30 minutes: a slow model
            # gets the asynchronous deadline here too.
            return B.ritual_blocks(c.rituals.draft(brand, RitualRequest(ritual=arg), actor=actor,
                                                   deadline=c.settings.llm_async_deadline))
        if sub == "spotlight":
            return B.spotlight_blocks(c.spotlight.suggest(brand, limit=3)["suggestions"])
        if sub == "check" and arg:
            return B.drift_blocks(c.drift.check(brand, arg))
        if sub == "vitality":
            return B.vitality_blocks(c.vitality.report(brand)["kpis"])
        return B.text_blocks(B.USAGE)

    # ---------------------------------------------------------------- review buttons
    async def _review_action(self, ack: Any, context: Any, respond: Any) -> None:
        await ack()
        brand, click = context["copilot_brand"], context["copilot_envelope"]
        admitted = await self._admit(brand, click)
        if isinstance(admitted, str):
            await self._tell(respond, click, admitted)
            return
        actor = f"slack:{click.user.username or click.user.name or click.user.id}"
        try:
            draft = await asyncio.to_thread(self.copilot.review.decide, admitted.draft_id, action=admitted.action,
                                            comment=click.comment(), actor=actor, brand=brand,
                                            if_match=admitted.version)
        except CopilotError as exc:
            await self._tell(respond, click, exc.detail)
            return
        await self.client.chat_update(channel=admitted.channel, ts=admitted.ts, text=B.decided_text(draft),
                                      blocks=B.decided_message(draft, actor, click.comment()))

    async def _admit(self, brand: str, click: Interaction) -> Decision | str:
        """The decision a click asks for, or why it may not decide anything (checked before any draft is read)."""
        channel, message = click.channel, click.message
        if channel is None or message is None or channel.id != self.review_channel_for(brand):
            return "Review buttons only work in the brand's review channel."
        if not await self.reviewers.allows(brand, click.user.id):
            return "You are not a reviewer of this brand's drafts."
        target = B.parse_button_value(click.actions[0].value)
        if target is None:
            return "This button is outdated: send the draft to Slack again."
        return Decision(*target, B.ACTIONS[click.actions[0].action_id][0], channel.id, message.ts)

    @staticmethod
    async def _tell(respond: Any, click: Interaction, text: str) -> None:
        """An answer only the person who clicked sees (never a message in a channel)."""
        if click.response_url:
            await respond(blocks=B.warning_blocks(text), text=B.escape_mrkdwn(text), response_type="ephemeral",
                          replace_original=False)

    async def send_for_review(self, draft: Any) -> dict[str, Any]:
        """Post a draft to its brand's review channel with the review buttons."""
        channel = self.review_channel_for(draft.brand_id)
        if not channel:
            raise CopilotError(f"no Slack review channel for brand '{draft.brand_id}' "
                               "(COPILOT_SLACK_REVIEW_CHANNELS or COPILOT_SLACK_REVIEW_CHANNEL)")
        resp = await self.client.chat_postMessage(channel=channel, blocks=B.review_message(draft),
                                                  text=B.review_text(draft))
        return {"channel": resp.get("channel"), "ts": resp.get("ts")}

    # ---------------------------------------------------------------- live history
    async def _message_event(self, context: Any) -> None:
        brand, event = context["copilot_brand"], context["copilot_envelope"].event
        try:
            records = history_records(event)
        except ValueError as exc:  # a field the history cannot hold (e.g. text over the limit): skipped
            log.warning("skipped a Slack message event: %s", type(exc).__name__)
            return
        if records:
            await asyncio.to_thread(self.copilot.ingestor.ingest, brand, records)

    async def _reaction_event(self, context: Any) -> None:
        brand, event = context["copilot_brand"], context["copilot_envelope"].event
        item = event.item
        if item is None or item.type != "message" or not item.channel or not item.ts:
            return
        await asyncio.to_thread(self._apply_reaction, brand, item.channel, item.ts, event.reaction or "?",
                                1 if event.type == "reaction_added" else -1)

    def _apply_reaction(self, brand: str, channel: str, ts: str, name: str, delta: int) -> None:
        uid = f"slack:{channel}/{ts}"
        row = self.copilot.store.get_messages(brand, [uid]).get(uid)
        if row is None:
            return
        reactions = dict(row.reactions or {})
        reactions[name] = max(0, reactions.get(name, 0) + delta)
        reactions = {k: v for k, v in reactions.items() if v}
        record = MessageRecord(source="slack", source_id=row.source_id, channel=row.channel, author=row.author,
                               author_name=row.author_name, created_at=row.created_at, title=row.title, text=row.text,
                               reply_to=row.reply_to, thread=row.thread, reactions=reactions, kind=row.kind,
                               is_solution=row.is_solution, lang=row.lang, permalink=row.permalink)
        self.copilot.ingestor.ingest(brand, [record])


def build(copilot: Any) -> SlackIntegration | None:
    """The integration when a signing secret and a bot token are configured."""
    s = copilot.settings
    if not (s.slack_signing_secret and s.slack_bot_token):
        return None
    return SlackIntegration(copilot, signing_secret=s.slack_signing_secret.get_secret_value(),
                            bot_token=s.slack_bot_token.get_secret_value(), api_url=s.slack_api_url,
                            brands=s.slack_brands, review_channel=s.slack_review_channel,
                            review_channels=s.slack_review_channels, reviewers=s.slack_reviewers)
