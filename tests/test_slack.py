"""Slack: real request signing (slack_sdk's own code), a fake Slack Web API on loopback, no network."""

from __future__ import annotations

import json
import time
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from slack_sdk.signature import SignatureVerifier

from copilot.api.app import create_app
from copilot.embed import HashEmbedder
from copilot.runtime import Copilot
from copilot.sample import load_sample
from copilot.settings import Settings
from tests.conftest import ADMIN
from tests.fake_slack import FakeSlack

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"


@pytest.fixture
def slack():
    with FakeSlack() as fake:
        yield fake


@pytest.fixture
def app_client(settings: Settings, slack: FakeSlack):
    settings = settings.model_copy(update={
        "slack_signing_secret": SecretStr(SECRET), "slack_bot_token": SecretStr("xoxb-test"),
        "slack_api_url": slack.api_url, "slack_brands": {"T1": "roue-libre"}, "slack_review_channel": "CREVIEW",
        "slack_reviewers": {"roue-libre": ["U7"]}})
    runtime = Copilot(settings, embedder=HashEmbedder())
    load_sample(runtime)
    with TestClient(create_app(settings, copilot=runtime)) as client:
        yield client, runtime
    runtime.close()


def signed(body: bytes, *, ts: int | None = None, secret: str = SECRET) -> dict[str, str]:
    stamp = str(ts if ts is not None else int(time.time()))
    sig = SignatureVerifier(secret).generate_signature(timestamp=stamp, body=body)
    return {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": sig}


def post_form(client: TestClient, path: str, form: dict, **kw):
    body = urlencode(form).encode()
    return client.post(path, content=body, headers={"Content-Type": "application/x-www-form-urlencoded", **signed(body, **kw)})


def post_event(client: TestClient, event: dict, **kw):
    body = json.dumps({"type": "event_callback", "team_id": "T1", "event_id": f"Ev{time.time_ns()}",
                       "event": event}).encode()
    return client.post("/slack/events", content=body, headers={"Content-Type": "application/json", **signed(body, **kw)})


def test_bad_or_stale_signatures_get_401_and_change_nothing(app_client):
    client, runtime = app_client
    before = runtime.store.count_messages("roue-libre")
    event = {"type": "message", "channel": "C1", "user": "U9", "text": "intrus", "ts": "1764000000.000200"}
    assert post_event(client, event, secret="wrong-secret").status_code == 401
    assert post_event(client, event, ts=int(time.time()) - 600).status_code == 401
    unsigned = client.post("/slack/events", content=b"{not even json", headers={"Content-Type": "application/json"})
    assert unsigned.status_code == 401 and unsigned.headers["content-type"] == "application/problem+json"
    assert runtime.store.count_messages("roue-libre") == before


def test_url_verification(app_client):
    client, _ = app_client
    body = json.dumps({"type": "url_verification", "challenge": "abc123"}).encode()
    r = client.post("/slack/events", content=body, headers={"Content-Type": "application/json", **signed(body)})
    assert r.status_code == 200 and r.json()["challenge"] == "abc123"


def test_slash_command_acks_fast_then_answers(app_client, slack: FakeSlack):
    client, _ = app_client
    started = time.perf_counter()
    r = post_form(client, "/slack/commands", {"command": "/copilot", "text": "check PROMO FLASH dernière chance !!!",
                                               "team_id": "T1", "channel_id": "C1", "user_id": "U1", "user_name": "ana",
                                               "response_url": slack.response_url("cmd"), "trigger_id": "x"})
    assert r.status_code == 200 and "On it" in r.text and time.perf_counter() - started < 3
    answer = slack.wait_for("response_url")
    assert "drift" in json.dumps(answer["blocks"]) and "banned_term" in json.dumps(answer["blocks"])
    post_form(client, "/slack/commands", {"command": "/copilot", "text": "spotlight", "team_id": "T1",
                                          "channel_id": "C1", "user_id": "U1",
                                          "response_url": slack.response_url("spot"), "trigger_id": "x"})
    deadline = time.time() + 15
    while time.time() < deadline and len([c for c in slack.calls if c[0] == "response_url"]) < 2:
        time.sleep(0.05)
    spot = [p for m, p in slack.calls if m == "response_url"][1]
    assert "Inès" in json.dumps(spot["blocks"], ensure_ascii=False)
    for text, expected in (("ritual Jeudi réparation", "Jeudi réparation"), ("vitality", "Active members"),
                           ("ritual karaoké", "unknown ritual"), ("", "Usage")):
        slack.calls.clear()
        r = post_form(client, "/slack/commands", {"command": "/copilot", "text": text, "team_id": "T1",
                                                  "channel_id": "C1", "user_id": "U1", "trigger_id": "x",
                                                  "response_url": slack.response_url("more")})
        assert r.status_code == 200
        assert expected in json.dumps(slack.wait_for("response_url")["blocks"], ensure_ascii=False)


def test_review_in_slack_calls_the_same_transitions(app_client, slack: FakeSlack):
    client, runtime = app_client
    draft = client.post("/v1/brands/roue-libre/rituals/drafts", json={"ritual": "Jeudi réparation"}, headers=ADMIN).json()
    sent = client.post(f"/v1/drafts/{draft['id']}/slack", headers=ADMIN)
    assert sent.status_code == 200 and sent.json()["status"] == "in_review"
    posted = slack.wait_for("chat.postMessage")
    assert posted["channel"] == "CREVIEW"
    buttons = [e for b in posted["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert [b["action_id"] for b in buttons] == ["review_approve", "review_request_changes", "review_reject"]
    assert {b["value"] for b in buttons} == {f"{draft['id']}:{sent.json()['version']}"}  # the version shown
    payload = {"type": "block_actions", "team": {"id": "T1"}, "user": {"id": "U7", "username": "edith"},
               "channel": {"id": "CREVIEW"}, "message": {"ts": "1764000000.000100"}, "trigger_id": "t",
               "response_url": slack.response_url("act"),
               "state": {"values": {"review_comment": {"comment": {"type": "plain_text_input", "value": "Top, on publie"}}}},
               "actions": [{"action_id": "review_approve", "block_id": "review_actions", "value": buttons[0]["value"],
                            "type": "button", "action_ts": "1"}]}
    r = post_form(client, "/slack/interactions", {"payload": json.dumps(payload)})
    assert r.status_code == 200
    updated = slack.wait_for("chat.update")
    assert updated["channel"] == "CREVIEW"
    assert "approved" in json.dumps(updated["blocks"]) and "Top, on publie" in json.dumps(updated["blocks"])
    history = runtime.review.history(draft["id"])
    assert history["decisions"][-1] == {**history["decisions"][-1], "action": "approve", "actor": "slack:edith",
                                        "comment": "Top, on publie"}
    # A second click is an illegal move, told only to the person who clicked, and changes nothing.
    slack.calls.clear()
    post_form(client, "/slack/interactions", {"payload": json.dumps(payload)})
    answer = slack.wait_for("response_url")
    assert "cannot approve" in json.dumps(answer["blocks"]) and answer["response_type"] == "ephemeral"
    assert slack.sent("chat.update") == [] and runtime.store.get_draft(draft["id"]).status == "approved"


def _wait(predicate, timeout=10.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_message_events_are_ingested_idempotently(app_client):
    client, runtime = app_client
    brand = "roue-libre"
    before = runtime.store.count_messages(brand)
    root = {"type": "message", "channel": "C1", "user": "U1", "text": "Qui a un démonte-pneu ?", "ts": "1764000000.000300"}
    assert post_event(client, root).status_code == 200
    assert _wait(lambda: runtime.store.count_messages(brand) == before + 1)
    post_event(client, root)  # a retry of the same event changes nothing
    reply = {"type": "message", "channel": "C1", "user": "U2", "text": "Moi !", "ts": "1764000000.000400",
             "thread_ts": "1764000000.000300"}
    post_event(client, reply)
    assert _wait(lambda: runtime.store.count_messages(brand) == before + 2)
    got = runtime.store.get_messages(brand, ["slack:C1/1764000000.000400"])["slack:C1/1764000000.000400"]
    assert got.reply_to == "C1/1764000000.000300" and got.kind == "comment"
    post_event(client, {"type": "message", "subtype": "message_changed", "channel": "C1",
                        "message": {**root, "text": "Qui a un démonte-pneu à prêter ?"}})
    uid = "slack:C1/1764000000.000300"
    assert _wait(lambda: runtime.store.get_messages(brand, [uid])[uid].text.endswith("à prêter ?"))
    post_event(client, {"type": "reaction_added", "user": "U3", "reaction": "thumbsup",
                        "item": {"type": "message", "channel": "C1", "ts": "1764000000.000300"}})
    assert _wait(lambda: runtime.store.get_messages(brand, [uid])[uid].reactions == {"thumbsup": 1})
    post_event(client, {"type": "message", "subtype": "message_deleted", "channel": "C1",
                        "deleted_ts": "1764000000.000400", "previous_message": reply})
    assert _wait(lambda: runtime.store.count_messages(brand) == before + 1)
    post_event(client, {"type": "message", "channel": "CX", "user": "U1", "text": "x",
                        "ts": "1764000000.000900"})
    body = json.dumps({"type": "event_callback", "team_id": "T-unknown", "event_id": "Ev1",
                       "event": {**root, "ts": "1764000000.000999"}}).encode()
    client.post("/slack/events", content=body, headers={"Content-Type": "application/json", **signed(body)})
    time.sleep(0.5)
    assert runtime.store.count_messages(brand) == before + 2  # the CX message is in T1; the unknown team is ignored
