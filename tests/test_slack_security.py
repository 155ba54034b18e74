"""Slack attack surface: who may decide on which draft from where, what reaches Slack, what a hostile signed body
does. Real request signing, a fake Slack on loopback, two brands in two workspaces."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import re
import time
import uuid
from contextlib import contextmanager
from types import SimpleNamespace
from typing import Any, Iterator
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, example, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from pydantic import SecretStr
from slack_sdk.web.async_client import AsyncWebClient

from copilot.api.app import create_app
from copilot.embed import HashEmbedder
from copilot.review import TRANSITIONS
from copilot.runtime import Copilot
from copilot.settings import Settings
from copilot.slack import blocks as B
from copilot.slack.app import Reviewers
from copilot.slack.envelope import nesting_exceeds
from tests.conftest import ADMIN
from tests.fake_slack import FakeSlack
from tests.test_slack import SECRET, post_form, signed

BRAND_OF_TEAM = {"T1": "roue-libre", "T2": "acme"}
REVIEW_CHANNEL = {"roue-libre": "CREVIEW", "acme": "CACME"}
REVIEWERS = {"roue-libre": ["U7", "S1"], "acme": ["U5"]}
GROUPS = {"S1": ["U8"]}
ALLOWED = {"roue-libre": {"U7", "U8"}, "acme": {"U5"}}
HOSTILE = "<!channel> <@U123> <https://evil.tk|atelier officiel> & <!here>"


@pytest.fixture(scope="module")
def slack():
    with FakeSlack() as fake:
        fake.usergroups.update(GROUPS)
        yield fake


@pytest.fixture
def sec(settings: Settings, slack: FakeSlack):
    """Two brands: roue-libre in workspace T1 (review channel from the default), acme in T2 (its own channel)."""
    settings = settings.model_copy(update={
        "slack_signing_secret": SecretStr(SECRET), "slack_bot_token": SecretStr("xoxb-test"),
        "slack_api_url": slack.api_url, "slack_brands": dict(BRAND_OF_TEAM), "slack_review_channel": "CREVIEW",
        "slack_review_channels": {"acme": "CACME"}, "slack_reviewers": REVIEWERS})
    runtime = Copilot(settings, embedder=HashEmbedder())
    for brand, name in (("roue-libre", "Roue Libre"), ("acme", "Acme")):
        runtime.store.create_brand(brand, name, "fr")
    slack.calls.clear()
    with TestClient(create_app(settings, copilot=runtime)) as client:
        yield client, runtime
    runtime.close()


def in_review(runtime: Copilot, brand: str, *, title: str = "Atelier du jeudi",
              body: str = "Atelier réparation jeudi soir : venez avec vos vélos, on s'entraide.") -> Any:
    """A draft at version 2, in review."""
    row = runtime.store.create_draft(brand, kind="ritual", ritual="Atelier", title=title, body=body,
                                     payload={"engine": "rules"}, actor="test")
    runtime.review.edit(row.id, if_match=1, title=None, body=body + " Café offert.", variants=None, note="v2",
                        actor="test")
    return runtime.review.decide(row.id, action="submit", comment=None, actor="test")


def click(*, team: str | None, channel: str | None, user: str, value: str, action: str = "review_approve",
          ts: str = "1764000000.000100", key: str = "act", slack: FakeSlack, comment: str | None = None) -> dict:
    payload: dict[str, Any] = {
        "type": "block_actions", "user": {"id": user, "username": f"user-{user}"}, "trigger_id": "t",
        "message": {"ts": ts}, "response_url": slack.response_url(key),
        "actions": [{"action_id": action, "block_id": "review_actions", "value": value, "type": "button"}]}
    if team is not None:
        payload["team"] = {"id": team}
    if channel is not None:
        payload["channel"] = {"id": channel}
    if comment is not None:
        payload["state"] = {"values": {B.COMMENT_BLOCK: {B.COMMENT_ACTION: {"type": "plain_text_input",
                                                                            "value": comment}}}}
    return payload


def signed_bytes(body: bytes) -> dict[str, str]:
    """Slack's v0 signature computed on the bytes themselves (slack_sdk's signer needs UTF-8)."""
    stamp = str(int(time.time()))
    digest = hmac.new(SECRET.encode(), b"v0:" + stamp.encode() + b":" + body, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": f"v0={digest}"}


def post_json(client: TestClient, path: str, body: bytes):
    return client.post(path, content=body, headers={"Content-Type": "application/json", **signed(body)})


def wait_until(predicate, timeout: float = 10.0) -> bool:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


def channel_messages(slack: FakeSlack) -> list[dict]:
    """Everything the app posted or updated in a channel (not the ephemeral response_url answers)."""
    return [p for m, p in list(slack.calls) if m.startswith("chat.")]


@contextmanager
def spying(obj: Any, name: str) -> Iterator[list[dict]]:
    """Record the keyword arguments of every call to obj.name (the call still happens)."""
    calls: list[dict] = []
    original = getattr(obj, name)

    def recorded(*args: Any, **kwargs: Any) -> Any:
        calls.append(kwargs)
        return original(*args, **kwargs)

    setattr(obj, name, recorded)
    try:
        yield calls
    finally:
        delattr(obj, name)


def blocks_of(payload: dict) -> Any:
    return json.loads(payload["blocks"]) if isinstance(payload["blocks"], str) else payload["blocks"]


def unescape(text: str) -> str:
    """What Slack shows for an escaped text."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


# ------------------------------------------------------------------ who may decide on which draft, from where
@given(team=st.sampled_from([None, "T-unknown", "T1", "T2"]), channel=st.sampled_from(["CREVIEW", "CACME", "CGENERAL"]),
       user=st.sampled_from(["U7", "U8", "U9", "U5"]), draft_brand=st.sampled_from(["roue-libre", "acme"]),
       stale=st.booleans(), action=st.sampled_from(list(B.ACTIONS)))
@example(team=None, channel="CREVIEW", user="U7", draft_brand="roue-libre", stale=False, action="review_approve")
@example(team="T-unknown", channel="CREVIEW", user="U7", draft_brand="roue-libre", stale=False, action="review_reject")
@example(team="T1", channel="CREVIEW", user="U9", draft_brand="roue-libre", stale=False, action="review_approve")
@example(team="T1", channel="CREVIEW", user="U8", draft_brand="roue-libre", stale=False, action="review_approve")
@example(team="T1", channel="CREVIEW", user="U7", draft_brand="acme", stale=False, action="review_reject")
@example(team="T2", channel="CACME", user="U5", draft_brand="roue-libre", stale=False, action="review_approve")
@example(team="T1", channel="CREVIEW", user="U7", draft_brand="roue-libre", stale=True, action="review_approve")
@example(team="T1", channel="CGENERAL", user="U7", draft_brand="roue-libre", stale=False, action="review_approve")
@example(team="T2", channel="CACME", user="U5", draft_brand="acme", stale=False, action="review_request_changes")
@example(team="T2", channel="CACME", user="U7", draft_brand="acme", stale=False, action="review_approve")
@hsettings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_only_a_listed_reviewer_in_the_brands_review_channel_decides_the_version_shown(
        sec, slack: FakeSlack, team, channel, user, draft_brand, stale, action):
    client, runtime = sec
    draft = in_review(runtime, draft_brand)
    with spying(runtime.review, "decide") as decided:
        check_click(client, runtime, slack, decided, draft, team, channel, user, draft_brand, stale, action)


def check_click(client, runtime, slack, decided, draft, team, channel, user, draft_brand, stale, action) -> None:
    shown = draft.version - 1 if stale else draft.version
    key, ts = uuid.uuid4().hex, f"1764{int(time.time_ns()) % 10**6:06d}.{uuid.uuid4().int % 10**6:06d}"
    r = post_form(client, "/slack/interactions", {"payload": json.dumps(click(
        team=team, channel=channel, user=user, value=f"{draft.id}:{shown}", action=action, ts=ts, key=key,
        slack=slack))})
    assert r.status_code == 200

    brand = BRAND_OF_TEAM.get(team or "")
    admitted = brand is not None and channel == REVIEW_CHANNEL[brand] and user in ALLOWED[brand]
    allowed = admitted and brand == draft_brand and not stale
    updated = lambda: [p for p in channel_messages(slack) if p.get("ts") == ts]  # noqa: E731
    if allowed:
        assert wait_until(lambda: updated())
        assert updated()[0]["channel"] == REVIEW_CHANNEL[draft_brand]
        assert runtime.store.get_draft(draft.id).status == TRANSITIONS[B.ACTIONS[action][0]][1]
    else:
        if brand is not None:  # the listener answers only the person who clicked
            assert wait_until(lambda: key in slack.responses)
            assert all(p["response_type"] == "ephemeral" for p in slack.responses[key])
        else:  # refused at the gate: nothing runs later either
            time.sleep(0.2)
            assert key not in slack.responses
        row = runtime.store.get_draft(draft.id)
        assert (row.status, row.version) == ("in_review", draft.version) and updated() == []
    # Drafts are read only for admitted clicks, always scoped to the workspace's brand, at the version shown.
    assert len(decided) == (1 if admitted else 0)
    assert all(c["brand"] == brand and c["if_match"] == shown for c in decided)
    assert {p["channel"] for p in channel_messages(slack)} <= set(REVIEW_CHANNEL.values())


def test_user_group_membership_is_asked_of_slack_and_cached_briefly(slack: FakeSlack):
    now = [1000.0]
    client = AsyncWebClient(token="xoxb-test", base_url=slack.api_url)
    reviewers = Reviewers(client, {"b": ["U7", "S1", "S404"]}, ttl_s=60, clock=lambda: now[0])
    lists = lambda: [p["usergroup"] for p in slack.sent("usergroups.users.list")]  # noqa: E731
    slack.calls.clear()
    slack.usergroups["S1"] = ["U8"]
    try:
        assert asyncio.run(reviewers.allows("b", "U7")) and lists() == []  # listed directly: no API call
        assert asyncio.run(reviewers.allows("b", "U8")) and lists() == ["S1"]
        assert asyncio.run(reviewers.allows("b", "U8")) and lists() == ["S1"]  # cached
        slack.usergroups["S1"] = []
        now[0] += 61  # past the cache: removal from the group takes effect
        assert not asyncio.run(reviewers.allows("b", "U8"))
        assert not asyncio.run(reviewers.allows("b", "S1"))  # a group id is not a user
        assert not asyncio.run(reviewers.allows("other-brand", "U7"))  # per brand; none by default
        assert "S404" in lists()  # an unknown group is asked about and grants nothing
    finally:
        slack.usergroups.update(GROUPS)


@pytest.mark.parametrize("where", ["no team", "unknown team"])
def test_unlinked_workspaces_are_refused_before_anything_is_read(sec, slack: FakeSlack, monkeypatch, where):
    client, runtime = sec
    team = {"no team": None, "unknown team": "T-unknown"}[where]
    draft = in_review(runtime, "roue-libre")
    touched: list[str] = []
    for obj, name in ((runtime.review, "decide"), (runtime.store, "get_draft"), (runtime.store, "get_messages"),
                      (runtime.ingestor, "ingest"), (runtime.rituals, "draft"), (runtime.drift, "check")):
        monkeypatch.setattr(obj, name, lambda *a, _n=name, **k: touched.append(_n))
    form = {"command": "/copilot", "text": "ritual Jeudi réparation", "channel_id": "CREVIEW", "user_id": "U7",
            "response_url": slack.response_url("cmd"), "trigger_id": "x"}
    r = post_form(client, "/slack/commands", form | ({"team_id": team} if team else {}))
    assert r.status_code in (200, 400) and "On it" not in r.text
    post_form(client, "/slack/interactions", {"payload": json.dumps(click(
        team=team, channel="CREVIEW", user="U7", value=f"{draft.id}:{draft.version}", slack=slack))})
    for event in ({"type": "message", "channel": "CREVIEW", "user": "U7", "text": "x", "ts": "1764000000.000500"},
                  {"type": "reaction_added", "user": "U7", "reaction": "tada",
                   "item": {"type": "message", "channel": "CREVIEW", "ts": "1764000000.000500"}}):
        envelope = {"type": "event_callback", "event_id": "Ev1", "event": event} | ({"team_id": team} if team else {})
        assert post_json(client, "/slack/events", json.dumps(envelope).encode()).status_code == 200
    time.sleep(0.3)
    assert touched == [] and slack.calls == []


def test_drafts_go_to_their_brands_review_channel(sec, slack: FakeSlack):
    client, runtime = sec
    for brand in ("acme", "roue-libre"):
        row = runtime.store.create_draft(brand, kind="ritual", ritual="Atelier", title="Atelier", body="Venez.",
                                         payload={"engine": "rules"}, actor="test")
        assert client.post(f"/v1/drafts/{row.id}/slack", headers=ADMIN).status_code == 200
        posted = slack.sent("chat.postMessage")[-1]
        assert posted["channel"] == REVIEW_CHANNEL[brand]
        values = {e["value"] for b in blocks_of(posted) if b["type"] == "actions" for e in b["elements"]}
        assert values == {f"{row.id}:1"}


def test_no_review_channel_for_the_brand_means_503_and_the_draft_stays_drafted(settings: Settings, slack: FakeSlack):
    settings = settings.model_copy(update={
        "slack_signing_secret": SecretStr(SECRET), "slack_bot_token": SecretStr("xoxb-test"),
        "slack_api_url": slack.api_url, "slack_brands": {"T2": "acme"}, "slack_review_channels": {"other": "C9"}})
    runtime = Copilot(settings, embedder=HashEmbedder())
    runtime.store.create_brand("acme", "Acme", "fr")
    row = runtime.store.create_draft("acme", kind="ritual", ritual="A", title="A", body="B", payload={}, actor="t")
    slack.calls.clear()
    with TestClient(create_app(settings, copilot=runtime)) as client:
        r = client.post(f"/v1/drafts/{row.id}/slack", headers=ADMIN)
    runtime.close()
    assert r.status_code == 503 and "COPILOT_SLACK_REVIEW_CHANNELS" in r.json()["detail"]
    assert runtime.store.get_draft(row.id).status == "drafted" and slack.calls == []


# ------------------------------------------------------------------ what reaches Slack is inert
def texts(blocks: Any) -> list[str]:
    """Every string Slack would render (the `text` of text objects), wherever it sits in the blocks."""
    if isinstance(blocks, dict):
        own = [blocks["text"]] if isinstance(blocks.get("text"), str) else []
        return own + [t for k, v in blocks.items() if k != "text" or not isinstance(v, str) for t in texts(v)]
    if isinstance(blocks, list):
        return [t for b in blocks for t in texts(b)]
    return []


def assert_inert(text: str) -> None:
    """No raw `<` (mention, broadcast or link) and `>` only as the product's own quote marker at a line start."""
    assert "<" not in text, text
    assert all(">" not in line[1:] for line in text.split("\n")), text


community_text = st.one_of(st.text(max_size=60), st.sampled_from([HOSTILE, "<@U123>", "a & b > c", "&lt;", "*x*"]))


@given(title=community_text, body=community_text, name=community_text, comment=community_text, detail=community_text)
@hsettings(max_examples=80, deadline=None)
def test_every_builder_escapes_community_text(title, body, name, comment, detail):
    draft = SimpleNamespace(id="d1", version=3, title=title, body=body, kind="ritual", ritual=name, status="approved",
                            payload={"engine": "rules", "guards": {"drift": {"verdict": detail}}})
    built = [B.review_message(draft), B.decided_message(draft, f"slack:{name}", comment), B.ritual_blocks(draft),
             B.drift_blocks({"verdict": detail, "score": 0.5, "flags": [{"type": name}], "rewrite": body}),
             B.spotlight_blocks([{"member": {"name": name}, "score": 0.9, "why": comment}]),
             B.vitality_blocks({"participation": {"active_members": detail, "known_members": 3},
                                "horizontality": {"member_to_member_reply_share": 0.5},
                                "responsiveness": {"median_first_response_hours": detail}}),
             B.warning_blocks(detail), B.text_blocks(comment)]
    rendered = [t for blocks in built for t in texts(blocks)]
    rendered += [B.review_text(draft), B.decided_text(draft), B.working_on(name)]
    for text in rendered:
        assert_inert(text)
    shown = unescape("\n".join(rendered))
    for original in (title, body, name, comment, detail):
        if len(B.escape_mrkdwn(original)) <= 100:  # escaped, not dropped: Slack shows it as typed
            assert all(line in shown for line in original.split("\n")), original


@given(st.text())
def test_escaping_leaves_no_control_character_and_loses_nothing(text):
    escaped = B.escape_mrkdwn(text)
    assert "<" not in escaped and ">" not in escaped and unescape(escaped) == text
    assert escaped.count("&") == len(re.findall("&(?:amp|lt|gt);", escaped))  # every & starts an entity


def test_hostile_member_text_reaches_slack_inert_end_to_end(sec, slack: FakeSlack):
    client, runtime = sec
    draft = in_review(runtime, "roue-libre", title=f"Atelier {HOSTILE}", body=f"Bonjour {HOSTILE}")
    assert client.post(f"/v1/drafts/{draft.id}/slack", headers=ADMIN).status_code == 200
    posted = slack.wait_for("chat.postMessage")
    blocks = blocks_of(posted)
    for text in texts(blocks) + [posted["text"]]:
        assert_inert(text)
    assert "&lt;!channel&gt;" in json.dumps(blocks) and "&lt;https://evil.tk|atelier officiel&gt;" in posted["text"]
    post_form(client, "/slack/interactions", {"payload": json.dumps(click(
        team="T1", channel="CREVIEW", user="U7", value=f"{draft.id}:{draft.version}", action="review_reject",
        comment=f"non: {HOSTILE}", slack=slack))})
    updated = slack.wait_for("chat.update")
    blocks = blocks_of(updated)
    for text in texts(blocks) + [updated["text"]]:
        assert_inert(text)
    assert "non: &lt;!channel&gt;" in json.dumps(blocks)
    slack.calls.clear()
    r = post_form(client, "/slack/commands", {"command": "/copilot", "text": f"check {HOSTILE}", "team_id": "T1",
                                              "channel_id": "C1", "user_id": "U1", "trigger_id": "x",
                                              "response_url": slack.response_url("cmd")})
    assert r.status_code == 200 and "<" not in r.text
    answer = slack.wait_for("response_url")
    for text in texts(answer["blocks"]):
        assert_inert(text)


# ------------------------------------------------------------------ hostile signed bodies
DEEP = 100_000


def deep(n: int = DEEP) -> str:
    return "[" * n + "]" * n


def event_body(event: Any, **extra: Any) -> bytes:
    return json.dumps({"type": "event_callback", "team_id": "T1", "event_id": "Ev1", "event": event, **extra}).encode()


RESPONSE_URL = "https://hooks.slack.com/actions/T1/1/x"  # a Slack URL; nothing is sent when the click is refused


def interaction(mutate) -> bytes:  # noqa: ANN001
    payload = {"type": "block_actions", "team": {"id": "T1"}, "user": {"id": "U7"}, "channel": {"id": "CREVIEW"},
               "message": {"ts": "1764000000.000100"}, "response_url": RESPONSE_URL,
               "actions": [{"action_id": "review_approve", "value": "abc:1"}]}
    mutate(payload)
    return b"payload=" + quote(json.dumps(payload)).encode()


MALFORMED: list[tuple[str, str, bytes]] = [
    ("events nested 100,000 deep", "/slack/events",
     b'{"type":"event_callback","team_id":"T1","event":' + deep().encode() + b"}"),
    ("interaction nested 100,000 deep", "/slack/interactions", b"payload=" + deep().encode()),
    ("interaction object nested deep", "/slack/interactions",
     b"payload=" + ('{"a":' * 5000 + "1" + "}" * 5000).encode()),
    ("not JSON", "/slack/events", b"{not even json"),
    ("a JSON array", "/slack/events", b"[]"),
    ("a JSON string", "/slack/events", b'"event_callback"'),
    ("JSON null", "/slack/events", b"null"),
    ("a 5000-digit number", "/slack/events", b'{"type":"event_callback","team_id":"T1","n":' + b"1" * 5000 + b"}"),
    ("undecodable bytes", "/slack/events", b'{"type":"\xff\xfe"}'),
    ("event without event", "/slack/events", b'{"type":"event_callback","team_id":"T1"}'),
    ("event as a list", "/slack/events", event_body([1, 2])),
    ("event channel as a list", "/slack/events",
     event_body({"type": "message", "channel": ["C1"], "user": "U1", "text": "x", "ts": "1764000000.000600"})),
    ("event ts not a timestamp", "/slack/events",
     event_body({"type": "message", "channel": "C1", "user": "U1", "text": "x", "ts": "soon"})),
    ("event ts past year 9999", "/slack/events",
     event_body({"type": "message", "channel": "C1", "user": "U1", "text": "x", "ts": "99999999999999.1"})),
    ("team id with a slash", "/slack/events",
     event_body({"type": "message", "channel": "C1", "user": "U1", "text": "x", "ts": "1764000000.000600"},
                team_id="T1/C1")),
    ("url_verification without challenge", "/slack/events", b'{"type":"url_verification"}'),
    ("payload not JSON", "/slack/interactions", b"payload=%7B%7B"),
    ("payload percent-decoding to junk", "/slack/interactions", b"payload=%FF%FE"),
    ("action without value", "/slack/interactions", interaction(lambda p: p["actions"][0].pop("value"))),
    ("action value a number", "/slack/interactions", interaction(lambda p: p["actions"][0].update(value=7))),
    ("no actions", "/slack/interactions", interaction(lambda p: p.update(actions=[]))),
    ("actions a string", "/slack/interactions", interaction(lambda p: p.update(actions="review_approve"))),
    ("team a string", "/slack/interactions", interaction(lambda p: p.update(team="T1"))),
    ("user missing", "/slack/interactions", interaction(lambda p: p.pop("user"))),
    ("user a group id", "/slack/interactions", interaction(lambda p: p.update(user={"id": "S1"}))),
    ("response_url elsewhere", "/slack/interactions",
     interaction(lambda p: p.update(response_url="https://evil.tk/collect"))),
    ("command without team", "/slack/commands", b"command=%2Fcopilot&text=vitality&channel_id=C1&user_id=U1"),
    ("too many form fields", "/slack/commands", "&".join(f"f{i}=1" for i in range(500)).encode()),
]


@pytest.mark.parametrize("path,body", [(p, b) for _, p, b in MALFORMED], ids=[n for n, _, _ in MALFORMED])
def test_malformed_signed_bodies_get_400_or_are_ignored_never_500(sec, slack: FakeSlack, caplog, path, body):
    client, runtime = sec
    draft = in_review(runtime, "roue-libre")
    before = runtime.store.count_messages("roue-libre")
    ctype = "application/json" if path == "/slack/events" else "application/x-www-form-urlencoded"
    with caplog.at_level(logging.ERROR):
        r = client.post(path, content=body, headers={"Content-Type": ctype, **signed_bytes(body)})
        time.sleep(0.2)
    assert r.status_code in (200, 400), r.text
    if r.status_code == 400:
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["type"].endswith("/slack-payload-invalid")
    assert not [rec for rec in caplog.records if rec.levelno >= logging.ERROR]
    assert runtime.store.get_draft(draft.id).status == "in_review"
    assert runtime.store.count_messages("roue-libre") == before and channel_messages(slack) == []


def test_deep_nesting_is_a_clear_400(sec):
    client, _ = sec
    body = b'{"type":"event_callback","team_id":"T1","event":' + deep().encode() + b"}"
    r = post_json(client, "/slack/events", body)
    assert r.status_code == 400 and "nested deeper than 64" in r.json()["detail"]


def test_brackets_inside_strings_do_not_count_as_nesting(sec):
    client, runtime = sec
    text = '[[[[{{{{ "\\"[[[[ \\\\' * 200
    doc = json.dumps({"a": [text]})
    assert not nesting_exceeds(doc, 2) and nesting_exceeds(doc, 1)
    before = runtime.store.count_messages("roue-libre")
    r = post_json(client, "/slack/events", event_body(
        {"type": "message", "channel": "C1", "user": "U1", "text": text, "ts": "1764000000.000700"}))
    assert r.status_code == 200
    assert wait_until(lambda: runtime.store.get_messages("roue-libre", ["slack:C1/1764000000.000700"]))
    assert runtime.store.count_messages("roue-libre") == before + 1


@pytest.mark.parametrize("text", ['"\\"' * 300_000, '"' + "[" * 900_000, '["\\' * 250_000],
                         ids=["escaped quotes in an open string", "brackets in an open string", "open strings"])
def test_the_nesting_scan_is_linear_on_unterminated_strings(text):
    started = time.perf_counter()
    nesting_exceeds(text, 64)
    assert time.perf_counter() - started < 5  # a backtracking scan would take hours on these


@pytest.mark.parametrize("header,value", [("X-Slack-Request-Timestamp", "9" * 400),
                                          ("X-Slack-Request-Timestamp", "-1"),
                                          ("X-Slack-Signature", "v0=\u00e9\u00e9"), ("X-Slack-Signature", "")])
def test_odd_signature_headers_are_401_not_500(sec, header, value):
    client, _ = sec
    body = event_body({"type": "message", "channel": "C1", "user": "U1", "text": "x", "ts": "1764000000.000800"})
    headers = {**signed(body), "Content-Type": "application/json", header: value}
    r = client.post("/slack/events", content=body, headers={k: v.encode("latin-1") for k, v in headers.items()})
    assert r.status_code == 401 and r.headers["content-type"] == "application/problem+json"


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner,
                                                                                       max_size=3), max_leaves=10)
PATHS = [("type",), ("team",), ("team", "id"), ("user",), ("user", "id"), ("channel",), ("channel", "id"),
         ("message",), ("message", "ts"), ("actions",), ("actions", 0), ("actions", 0, "action_id"),
         ("actions", 0, "value"), ("state",), ("state", "values"), ("response_url",)]


@given(path=st.sampled_from(PATHS), value=json_values, delete=st.booleans())
@hsettings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_mangled_click_is_400_or_harmless(sec, slack: FakeSlack, path, value, delete):
    """A listed reviewer's click on a stale version, with one field replaced by anything or removed."""
    client, runtime = sec
    draft = in_review(runtime, "roue-libre")
    payload = click(team="T1", channel="CREVIEW", user="U7", value=f"{draft.id}:{draft.version - 1}", slack=slack,
                    comment="ok")
    parent = payload
    for step in path[:-1]:
        parent = parent[step]
    if delete:
        parent.pop(path[-1]) if isinstance(parent, dict) else parent.clear()
    else:
        parent[path[-1]] = value
    r = post_form(client, "/slack/interactions", {"payload": json.dumps(payload)})
    assert r.status_code in (200, 400), r.text
    assert runtime.store.get_draft(draft.id).status == "in_review" and channel_messages(slack) == []
