"""The real draft, drift-judge, shout-out and charter paths against a real local model server (issue 13).

The model is a tiny base model whose answers are mostly nonsense, so these tests assert the plumbing a user
relies on, whatever the model says: no 5xx; `engine` and `degraded` tell the truth (a model answer passed every
check, a rules answer says why the model's did not); the negotiated format works on this server; nonsense is
refused with reasons; the deadline holds; usage adds up. A summary per server is written to
bench/results/live_llm_<server>.json."""

from __future__ import annotations

import json
import statistics
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.conftest import ADMIN, ROOT
from copilot.features.charter_reading import _inside, _norm
from copilot.ingest.charter import parse_charter
from tests.live_llm.conftest import ASYNC_DEADLINE, DEADLINE, SERVER

RITUALS = ["Jeudi réparation", "Le carnet du lundi", "Défi du week-end", "qa_session", "welcome_thread", "showcase"]
POSTS = ["PROMO FLASH -30% ce soir seulement, partage et tague 3 amis !!!",
         "Merci à toutes celles et ceux qui ont répondu aux nouveaux cette semaine.",
         "Share this post and tag 3 friends to win a free tune-up!",
         "On se retrouve jeudi à 18h pour les questions-réponses, les membres experts seront là."]
SLACK = 8.0  # composing, retrieval and the first index build around the LLM's own deadline
RESULTS: dict[str, list] = {"draft_s": [], "drift_s": [], "engines": [], "reasons": [], "charter_s": [],
                            "charter_engines": [], "async_accept_s": [], "async_done_s": []}


def _reasons(text: str | None) -> list[str]:
    """One short label per failed attempt ("DeadlineReached", "output failed checks: body has 1 word(s)" …)."""
    labels = []
    for part in (text or "").split(" | "):
        cause = part.split("attempt ", 1)[-1].split(": ", 1)[-1]
        labels.append(cause.split(" (")[0].replace("output failed checks: ", "")[:70])
    return [label for label in labels if label]


@pytest.mark.parametrize("i", range(len(RITUALS)))
def test_drafts_are_truthful_and_bounded(live, i):
    client, runtime = live
    started = time.monotonic()
    r = client.post("/v1/brands/roue-libre/rituals/drafts", headers=ADMIN,
                    json={"ritual": RITUALS[i], "language": "fr" if i % 3 else "en", "variants": 2})
    elapsed = time.monotonic() - started
    RESULTS["draft_s"].append(elapsed)
    assert r.status_code == 201, r.text
    draft = r.json()
    RESULTS["engines"].append(draft["engine"])
    assert elapsed <= DEADLINE + SLACK
    if draft["engine"] == "llm":  # accepted: it passed every check, so it is a real text in the right language
        assert not draft["degraded"] and draft["citations"] and len(draft["body"].split()) >= 8
        assert draft["usage"]["calls"] >= 1 and draft["usage"]["completion_tokens"] > 0
    else:  # the rules answered: the response says why, and what the model calls cost (none if time ran out first)
        assert draft["degraded"] and draft["degraded_reason"].startswith("llm failed:")
        assert draft["usage"]["calls"] >= 1 or "deadline" in draft["degraded_reason"]
        RESULTS["reasons"] += _reasons(draft["degraded_reason"])


@pytest.mark.parametrize("post", POSTS)
def test_drift_judge_is_truthful_and_bounded(live, post):
    client, _ = live
    started = time.monotonic()
    r = client.post("/v1/brands/roue-libre/drift/checks", json={"text": post}, headers=ADMIN)
    RESULTS["drift_s"].append(time.monotonic() - started)
    assert r.status_code == 200, r.text
    out = r.json()
    assert (out["engine"] == "rules+llm") != bool(out["degraded"])
    if out["degraded"]:
        RESULTS["reasons"] += _reasons(out["degraded_reason"])
    assert time.monotonic() - started <= DEADLINE + SLACK


def test_shoutout_is_truthful(live):
    client, _ = live
    suggestion = client.get("/v1/brands/roue-libre/spotlight", params={"limit": 1}, headers=ADMIN).json()["suggestions"][0]
    shout = suggestion["shoutout"]
    assert shout["engine"] in ("llm", "rules") and (shout["engine"] == "rules") == bool(shout.get("degraded"))
    if shout["engine"] == "llm":
        assert suggestion["member"]["name"] in shout["text"] and "M1" not in shout["text"]


def test_charter_reading_is_truthful_and_bounded(live):
    client, _ = live
    source = (ROOT / "knowledge" / "charter.md").read_text(encoding="utf-8") + \
        f"\n\nÉvite le mot « {SERVER or 'live'}-promo » dans les titres.\n"  # a new version: the model reads it
    started = time.monotonic()
    r = client.put("/v1/brands/roue-libre/charter", json={"content": source, "format": "markdown"}, headers=ADMIN)
    RESULTS["charter_s"].append(time.monotonic() - started)
    assert r.status_code == 200, r.text
    charter = r.json()["charter"]
    review = charter["review"]
    assert time.monotonic() - started <= DEADLINE + SLACK
    RESULTS["charter_engines"].append("rules" if review["degraded"] else "rules+llm")
    if review["degraded"]:
        assert review["degraded_reason"].startswith("llm failed:") and not charter["proposals"]
        RESULTS["reasons"] += _reasons(review["degraded_reason"])
    for p in charter["proposals"]:  # whatever the model said, a proposal quotes the charter's own words
        assert _inside(p["quote"], _norm(source)) and p["passage_id"]
    # Nothing the model read is applied before the CM confirms it.
    assert {t["term"] for t in charter["banned_terms"]} == {t.term for t in parse_charter(source, "markdown").banned_terms}


def test_async_draft_answers_at_once_and_finishes_within_its_deadline(live):
    client, _ = live
    started = time.monotonic()
    r = client.post("/v1/brands/roue-libre/rituals/drafts", json={"ritual": "qa_session", "language": "fr"},
                    headers={**ADMIN, "Prefer": "respond-async"})
    RESULTS["async_accept_s"].append(time.monotonic() - started)
    assert r.status_code == 202, r.text
    assert time.monotonic() - started < 2.0  # the caller (a CM tool, a Slack command) never waits on the model
    job = r.json()
    while job["status"] not in ("succeeded", "failed") and time.monotonic() - started < ASYNC_DEADLINE + SLACK:
        time.sleep(0.5)
        job = client.get(r.headers["Location"], headers=ADMIN).json()
    RESULTS["async_done_s"].append(time.monotonic() - started)
    assert job["status"] == "succeeded", job
    draft = client.get(f"/v1/drafts/{job['draft_id']}", headers=ADMIN).json()
    assert (draft["engine"] == "rules") == bool(draft["degraded"])


def test_negotiation_settles_on_a_format_this_server_takes(live):
    _, runtime = live
    mode = runtime.llm.modes.get("openai/gemma3-270m")
    assert mode in ("json_schema", "json_object", "text")
    if SERVER == "python-server":  # it refuses json_schema: the refusal was learned, not retried
        assert mode != "json_schema"


def test_usage_adds_up(live):
    client, runtime = live
    usage = client.get("/v1/brands/roue-libre/usage", headers=ADMIN).json()["totals"]
    assert usage["calls"] >= len(RESULTS["draft_s"]) and usage["failures"] <= usage["calls"]
    drafts = client.get("/v1/brands/roue-libre/drafts", params={"limit": 200}, headers=ADMIN).json()["items"]
    counted = sum(d["usage"].get("calls", 0) for d in drafts)
    assert counted <= usage["calls"]  # drift judge and shout-out calls come on top of the drafts'


def test_write_summary():
    draft_s, drift_s = sorted(RESULTS["draft_s"]), sorted(RESULTS["drift_s"])
    assert draft_s and drift_s

    def p95(xs: list[float]) -> float:
        return round(xs[min(len(xs) - 1, int(0.95 * len(xs)))], 2)

    summary = {"server": SERVER, "drafts": len(draft_s), "accepted_from_model": RESULTS["engines"].count("llm"),
               "draft_p50_s": round(statistics.median(draft_s), 2), "draft_p95_s": p95(draft_s),
               "drift_p50_s": round(statistics.median(drift_s), 2), "drift_p95_s": p95(drift_s),
               "worst_request_s": round(max(draft_s + drift_s + RESULTS["charter_s"]), 2),
               "charter_reading_s": [round(x, 2) for x in RESULTS["charter_s"]],
               "charter_engines": RESULTS["charter_engines"],
               "async_draft_accept_s": [round(x, 3) for x in RESULTS["async_accept_s"]],
               "async_draft_done_s": [round(x, 2) for x in RESULTS["async_done_s"]],
               "refusal_reasons": Counter(RESULTS["reasons"]).most_common(12)}
    out = ROOT / "bench" / "results" / f"live_llm_{SERVER or 'unknown'}.json"
    Path(out).write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
