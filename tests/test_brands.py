"""Four brands the engines were not written for, each driven end to end through the HTTP API: charter,
import, typing, search, spotlight, vitality, ritual draft, drift check and feed report (issue 11).

The fixtures (tests/brands/) were written by someone who had not read the engines; their `expected.json`
holds a person's reading of each community. Thresholds below are what the engines must keep, measured."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.brand_fixtures import BRANDS, load_brand
from tests.conftest import ADMIN

STAFF_WORDS = ("team", "équipe", "staff")  # how a CM recognises the brand's own accounts in a roles-less export


def _ids(expected: dict[str, Any], values: list[str], kind: str) -> list[str]:
    """Expected ids in the product's id scheme (Stack Exchange posts, comments and users get a prefix)."""
    if expected["format"] != "stackexchange":
        return [str(v) for v in values]
    if kind == "user":
        return [f"u{v}" for v in values]
    return [f"p{v}" if int(v) < 900 else f"c{v}" for v in values]


@pytest.fixture(params=BRANDS)
def loaded(request: pytest.FixtureRequest, client: TestClient) -> dict[str, Any]:
    expected = load_brand(client, request.param)
    slug = expected["brand"]
    members = client.get(f"/v1/brands/{slug}/members", params={"limit": 500}, headers=ADMIN).json()["items"]
    # Exports without roles (Discord, Stack Exchange, forums): the CM marks the brand's accounts as staff.
    staff = set(_ids(expected, [i for i in expected["not_helpers"]], "user")) - {m["source_id"] for m in members
                                                                                 if m["role"] == "bot"}
    for m in members:
        named_staff = any(w in m["name"].lower() for w in STAFF_WORDS) or slug.split("-")[0] in m["name"].lower()
        if m["source_id"] in staff and named_staff and m["role"] == "member":
            r = client.patch(f"/v1/brands/{slug}/members/{m['id']}", json={"role": "staff"}, headers=ADMIN)
            assert r.status_code == 200
    members = client.get(f"/v1/brands/{slug}/members", params={"limit": 500}, headers=ADMIN).json()["items"]
    return {**expected, "members_list": members}


def test_members_are_one_per_person(loaded: dict[str, Any]):
    people = [m for m in loaded["members_list"] if m["role"] != "bot"]
    bots = [m for m in loaded["members_list"] if m["role"] == "bot"]
    assert (len(people), len(bots)) == (loaded["members"], loaded["bots"])
    assert all(m["name"] and not re.fullmatch(r"[UBW][A-Z0-9]{6,}", m["name"]) for m in people)


def test_questions_answers_and_thanks_are_typed(loaded: dict[str, Any], copilot):
    slug = loaded["brand"]
    rows = {m["uid"].split(":", 1)[1]: m for m in copilot.store.iter_messages(slug)}
    staff = {m["source_id"] for m in loaded["members_list"] if m["role"] != "member"}
    predicted = {sid for sid, m in rows.items() if m["kind"] == "question" and m["author"] not in staff}
    truth = set(_ids(loaded, loaded["questions"], "post"))
    assert truth <= set(rows), "every labelled question was imported"
    precision, recall = len(predicted & truth) / max(1, len(predicted)), len(predicted & truth) / len(truth)
    assert precision >= 0.8 and recall >= 0.8, (precision, recall, sorted(predicted ^ truth))
    answers = _ids(loaded, list(loaded["answers"]), "post")
    typed = sum(rows[a]["kind"] == "answer" for a in answers) / len(answers)
    assert typed >= 0.7, typed


def test_spotlight_finds_the_helpers_and_never_staff_or_bots(loaded: dict[str, Any], client: TestClient):
    slug = loaded["brand"]
    out = client.get(f"/v1/brands/{slug}/spotlight", params={"window_days": 90, "limit": 5}, headers=ADMIN).json()
    top = [s["member"]["source_id"] for s in out["suggestions"]]
    helpers = set(_ids(loaded, loaded["helpers"], "user"))
    assert helpers <= set(top[:3]), (top, helpers)
    bots_and_staff = {m["source_id"] for m in loaded["members_list"] if m["role"] != "member"}
    assert not bots_and_staff & set(top)
    for s in out["suggestions"][:2]:
        assert s["breakdown"]["solutions"] + s["breakdown"]["first_answers"] + s["breakdown"]["help_given"] > 0


def test_vitality_sees_member_questions_and_the_unanswered_one(loaded: dict[str, Any], client: TestClient):
    slug = loaded["brand"]
    kpis = client.get(f"/v1/brands/{slug}/vitality", params={"window_days": 90}, headers=ADMIN).json()["kpis"]
    assert kpis["responsiveness"]["member_questions"] >= 0.8 * len(loaded["questions"])
    assert kpis["responsiveness"]["unanswered_48h_share"] > 0  # each brand has a question nobody answered
    assert kpis["horizontality"]["member_to_member_reply_share"] > 0.3


def test_ritual_draft_is_built_from_this_brand_only(loaded: dict[str, Any], client: TestClient):
    slug, lang = loaded["brand"], loaded["language"]
    r = client.post(f"/v1/brands/{slug}/rituals/drafts", json={"ritual": loaded["ritual"], "variants": 2}, headers=ADMIN)
    assert r.status_code == 201, r.text
    draft = r.json()
    assert draft["language"] == lang and len(draft["variants"]) == 1
    editions = set(_ids(loaded, loaded["ritual_editions"], "post"))
    assert {p["id"] for p in draft["grounding"]["past_editions"]} <= editions
    assert draft["grounding"]["past_editions"], "earlier editions of the ritual are found"
    text = " ".join([draft["title"], draft["body"], *draft["variants"]]).lower()
    for word in ("vélo", "atelier", "roules", "bike", "chaîne"):
        assert word not in text
    if lang == "fr" and draft["register"] == "tu":
        assert not re.search(r"\b(vous|vos|votre)\b", draft["title"].lower())
    assert draft["guards"]["ok"], draft["guards"]
    # The charter's description of the ritual is written for the team: no run of 6 of its words is pasted
    # (what it quotes, the words the post opens with, may be).
    charter = client.get(f"/v1/brands/{slug}/charter", headers=ADMIN).json()
    charter = charter.get("charter", charter)
    fmt = next(r["format"] for r in charter["rituals"] if r["name"] == loaded["ritual"])
    fmt = re.sub(r"«[^»]*»|\"[^\"]*\"|“[^”]*”", " | ", fmt).split()
    assert len(fmt) >= 6
    body = " ".join(" ".join([draft["body"], *draft["variants"]]).split())
    assert not [fmt[i:i + 6] for i in range(len(fmt) - 5) if " ".join(fmt[i:i + 6]) in body]


def test_drift_checks_follow_the_charter(loaded: dict[str, Any], client: TestClient):
    slug = loaded["brand"]
    wrong = []
    for case in loaded["drift_checks"]:
        out = client.post(f"/v1/brands/{slug}/drift/checks", json={"text": case["text"]}, headers=ADMIN).json()
        if ("ok" if out["verdict"] == "ok" else "drift") != case["label"]:
            wrong.append((case["label"], out["verdict"], case["text"][:80]))
    assert len(wrong) <= 1, wrong


def test_feed_report_reads_the_brand_posts(loaded: dict[str, Any], client: TestClient):
    slug = loaded["brand"]
    report = client.get(f"/v1/brands/{slug}/drift/report", params={"window_days": 90}, headers=ADMIN).json()
    assert report["brand_posts"] >= len(loaded["drifting_posts"]) + len(loaded["ok_posts"])
    assert report["promotional_posts"] >= 1
    # A handful of brand posts is too few for a share: the report says so instead of calling the feed over quota.
    assert report["quota_judged"] == (report["brand_posts"] >= 10)
    if not report["quota_judged"]:
        assert not report["over_quota"] and str(report["brand_posts"]) in report["quota_note"]


def test_search_finds_what_members_ask_for(loaded: dict[str, Any], client: TestClient, settings):
    slug = loaded["brand"]
    found = 0
    for case in loaded["search"]:
        hits = client.get(f"/v1/brands/{slug}/search", params={"q": case["q"], "limit": 5}, headers=ADMIN).json()
        found += bool({h["id"] for h in hits["results"]} & set(_ids(loaded, case["relevant"], "post")))
    # A bag-of-words test embedder (the real one is measured in the retrieval eval). Measured on both back ends
    # (issue 14): coop-glaneurs 3 of 5, fernlint 3, hibou-malin 3 (4 on PostgreSQL); PostgreSQL's keyword side
    # used to find fewer of these paraphrases (coop-glaneurs 1 of 5) and now finds as many as SQLite FTS5.
    floor = 3
    assert found >= floor, found
