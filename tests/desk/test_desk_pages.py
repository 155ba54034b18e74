"""The desk over HTTP without a browser: sessions and CSRF, tenancy and scopes, the API's review rules, bad input,
languages, and the pieces the pages are made of (highlighted spans, word diffs, charts)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import BaseModel

from copilot.desk.charts import nested, series
from copilot.desk.i18n import LOCALES, catalog, choose_language
from copilot.desk.views import highlight, plain, word_diff
from copilot.runtime import Copilot
from tests.conftest import ADMIN
from tests.desk.conftest import csrf_of, sign_in_form

TEMPLATES = Path(__file__).resolve().parents[2] / "copilot" / "desk" / "templates"
PROMO = "PROMO -30% ce soir seulement, partage et tague 3 amis !!!"
CALM = "Quelle est votre astuce de la semaine ? Partagez-la en réponse, on lit tout."


def _brand(client: TestClient, slug: str, language: str = "fr") -> str:
    r = client.post("/v1/brands", json={"id": slug, "name": slug.title(), "language": language}, headers=ADMIN)
    assert r.status_code == 201, r.text
    return slug


def _key(copilot: Copilot, brand: str, *scopes: str, actor: str = "Alice") -> tuple[str, str]:
    row, secret = copilot.store.create_key(brand, actor, list(scopes))
    return row.id, secret


def _draft(copilot: Copilot, brand: str, body: str = CALM, *, actor: str = "drafter") -> str:
    return copilot.store.create_draft(brand, kind="ritual", ritual="weekly_challenge", title="Weekly", body=body,
                                      payload={}, actor=actor).id


def _signed_in(client: TestClient, key: str) -> None:
    csrf = sign_in_form(client)
    r = client.post("/desk/sign-in", data={"key": key, "csrf": csrf}, follow_redirects=False)
    assert r.status_code == 303, r.text


@pytest.fixture
def desk(client: TestClient, copilot: Copilot) -> dict[str, Any]:
    client.headers["accept-language"] = "fr-FR,fr;q=0.9"  # the editors of these tests read French
    brand = _brand(client, "acme")
    other = _brand(client, "globex", "en")
    _, key = _key(copilot, brand, "review", "draft")
    return {"brand": brand, "other": other, "key": key, "draft": _draft(copilot, brand),
            "other_draft": _draft(copilot, other, "What is your tip of the week?")}


def test_a_brand_key_becomes_an_http_only_same_site_session(client: TestClient, copilot: Copilot, desk: dict) -> None:
    r = client.get(f"/desk/{desk['brand']}/drafts", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/desk/sign-in")
    csrf = sign_in_form(client)
    r = client.post("/desk/sign-in", data={"key": "cpk_nope_nope", "csrf": csrf})
    assert r.status_code == 401 and "inconnue ou révoquée" in r.text
    _, reader = _key(copilot, desk["brand"], "read")
    r = client.post("/desk/sign-in", data={"key": reader, "csrf": csrf})
    assert r.status_code == 403 and "ni le droit de relecture" in r.text
    r = client.post("/desk/sign-in", data={"key": desk["key"], "csrf": csrf}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/desk/{desk['brand']}/drafts"
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/desk" in cookie
    assert desk["key"].lower() not in cookie  # the key itself never travels again
    page = client.get(f"/desk/{desk['brand']}/drafts")
    assert page.status_code == 200 and "Alice" in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]


def test_sign_in_needs_the_form_token(client: TestClient, desk: dict) -> None:
    r = client.post("/desk/sign-in", data={"key": desk["key"], "csrf": "forged"})
    assert r.status_code == 403 and "csrf" in r.text
    client.cookies.clear()
    r = client.post("/desk/sign-in", data={"key": desk["key"], "csrf": "x"})
    assert r.status_code == 403


def test_forms_without_the_session_token_change_nothing(client: TestClient, copilot: Copilot, desk: dict) -> None:
    _signed_in(client, desk["key"])
    url = f"/desk/{desk['brand']}/drafts/{desk['draft']}"
    for path, data in (("/edit", {"body": "changed", "version": "1"}), ("/decide", {"action": "reject"}),
                       ("/edit", {"body": "changed", "version": "1", "csrf": "stale-token"})):
        r = client.post(url + path, data=data)
        assert r.status_code == 403 and "csrf" in r.text, r.text
    row = copilot.store.get_draft(desk["draft"])
    assert (row.version, row.status, row.body) == (1, "drafted", CALM)


def test_another_brand_is_a_404_and_a_revoked_key_ends_the_session(client: TestClient, copilot: Copilot,
                                                                   desk: dict) -> None:
    key_id, key = _key(copilot, desk["brand"], "review")
    _signed_in(client, key)
    for path in (f"/desk/{desk['other']}", f"/desk/{desk['other']}/drafts",
                 f"/desk/{desk['brand']}/drafts/{desk['other_draft']}", f"/desk/{desk['other']}/drafts/{desk['other_draft']}"):
        r = client.get(path)
        assert r.status_code == 404, path
        assert "What is your tip" not in r.text
    copilot.store.revoke_key(desk["brand"], key_id)
    r = client.get(f"/desk/{desk['brand']}/drafts", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/desk/sign-in")


def test_a_review_only_key_reads_and_decides_but_cannot_edit(client: TestClient, copilot: Copilot, desk: dict) -> None:
    _, key = _key(copilot, desk["brand"], "review")
    _signed_in(client, key)
    url = f"/desk/{desk['brand']}/drafts/{desk['draft']}"
    page = client.get(url)
    assert 'id="edit-form"' not in page.text and 'value="reject"' in page.text
    assert 'value="submit"' not in page.text  # submitting needs the draft scope, as in the API
    r = client.post(url + "/edit", data={"body": "x", "version": "1", "csrf": csrf_of(page.text)})
    assert r.status_code == 403 and "draft" in r.text
    assert copilot.store.get_draft(desk["draft"]).version == 1


def test_a_stale_edit_shows_both_versions_and_keeps_the_other_save(client: TestClient, copilot: Copilot,
                                                                  desk: dict) -> None:
    _signed_in(client, desk["key"])
    url = f"/desk/{desk['brand']}/drafts/{desk['draft']}"
    csrf = csrf_of(client.get(url).text)
    copilot.review.edit(desk["draft"], if_match=1, title=None, body="Saved first by Bruno.", variants=None,
                        note=None, actor="Bruno")
    r = client.post(url + "/edit", data={"body": "Alice's text.", "version": "1", "csrf": csrf})
    assert r.status_code == 409
    assert "Saved first by Bruno." in r.text and "Alice&#39;s text." in r.text and 'name="version" value="2"' in r.text
    row = copilot.store.get_draft(desk["draft"])
    assert (row.version, row.body) == (2, "Saved first by Bruno.")
    r = client.post(url + "/edit", data={"body": "Merged: Bruno and Alice.", "version": "2", "csrf": csrf},
                    follow_redirects=False)
    assert r.status_code == 303
    assert copilot.store.get_draft(desk["draft"]).body == "Merged: Bruno and Alice."


def test_decisions_follow_the_api_rules(client: TestClient, copilot: Copilot, desk: dict) -> None:
    draft = _draft(copilot, desk["brand"], PROMO)
    _signed_in(client, desk["key"])
    url = f"/desk/{desk['brand']}/drafts/{draft}"
    csrf = csrf_of(client.get(url).text)
    decide = lambda **f: client.post(url + "/decide", data={"csrf": csrf, **f}, follow_redirects=False)  # noqa: E731
    r = decide(action="approve")
    assert r.status_code == 409 and "drafted" in r.text  # not submitted yet
    assert decide(action="submit").status_code == 303
    r = decide(action="request_changes")
    assert r.status_code == 422 and "comment" in r.text
    r = decide(action="approve")
    assert r.status_code == 409 and "guards" in r.text  # the promotional text fails its guards
    r = decide(action="approve", override_guards="on")
    assert r.status_code == 422 and "comment" in r.text
    assert decide(action="approve", override_guards="on", comment="legal asked for it").status_code == 303
    r = decide(action="publish", permalink="javascript:alert(1)")
    assert r.status_code == 422 and "permalink" in r.text
    r = decide(action="fly")
    assert r.status_code == 422 and "action" in r.text
    assert decide(action="publish", permalink="https://example.org/p/1").status_code == 303
    history = copilot.review.history(draft)["decisions"]
    assert [d["action"] for d in history] == ["submit", "override_guards", "approve", "publish"]
    assert {d["actor"] for d in history} == {"Alice"}


def test_bad_queue_filters_name_the_field(client: TestClient, desk: dict) -> None:
    _signed_in(client, desk["key"])
    for query, field in (("status=bogus", "status"), ("age=3", "age"), ("offset=-1", "offset")):
        r = client.get(f"/desk/{desk['brand']}/drafts?{query}")
        assert r.status_code == 422 and f"<code>{field}</code>" in r.text, query


def test_queue_filters_and_counts(client: TestClient, copilot: Copilot, desk: dict) -> None:
    _draft(copilot, desk["brand"], actor="bob")
    rejected = _draft(copilot, desk["brand"], actor="bob")
    copilot.review.decide(rejected, action="reject", comment="no", actor="lead")
    _signed_in(client, desk["key"])
    page = client.get(f"/desk/{desk['brand']}/drafts?author=bob").text
    assert page.count("data-row>") == 2
    page = client.get(f"/desk/{desk['brand']}/drafts?author=bob&status=rejected&age=1").text
    assert page.count("data-row>") == 1 and f"/drafts/{rejected}" in page
    assert copilot.store.draft_facets(desk["brand"])["status"] == {"drafted": 2, "rejected": 1}
    assert copilot.store.draft_facets(desk["brand"])["author"] == {"drafter": 1, "bob": 2}


def test_language_from_the_browser_then_the_brand(client: TestClient, copilot: Copilot, desk: dict) -> None:
    _, key = _key(copilot, desk["other"], "admin")
    _signed_in(client, key)
    url = f"/desk/{desk['other']}/drafts"
    assert "Review queue" in client.get(url, headers={"accept-language": ""}).text  # the brand speaks English
    assert "File de relecture" in client.get(url, headers={"accept-language": "fr-CA,fr;q=0.9"}).text
    assert "Review queue" in client.get(url, headers={"accept-language": "de-DE,en;q=0.5,fr;q=0.4"}).text
    assert choose_language("de, fr;q=0.1", "en") == "fr" and choose_language("de", "fr") == "fr"


def test_pages_read_pydantic_models_as_well_as_dicts(client: TestClient, copilot: Copilot, desk: dict,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    report = copilot.vitality.report  # a typed model since issue 15: the pages must read a plain dict as well
    monkeypatch.setattr(copilot.vitality, "report", lambda *a, **k: report(*a, **k).model_dump(mode="json"))
    _signed_in(client, desk["key"])
    r = client.get(f"/desk/{desk['brand']}")
    assert r.status_code == 200 and "Santé de la communauté" in r.text and 'id="chart-participation"' in r.text


def test_both_languages_have_every_sentence_the_templates_use() -> None:
    en, fr = catalog("en"), catalog("fr")
    # English KPI definitions come from the vitality service itself; French ones are translated here.
    assert {k for k in en if not k.startswith("def.")} == {k for k in fr if not k.startswith("def.")}
    used = {m for path in TEMPLATES.glob("*.html")
            for m in re.findall(r'\bt\(\s*["\']([a-z_.0-9]+)["\']', path.read_text(encoding="utf-8"))}
    whole = {k for k in used if not k.endswith(".")}  # `t("status." ~ s)` names a family: some key must start so
    assert whole and not whole - en.keys() and not whole - fr.keys(), (whole - en.keys(), whole - fr.keys())
    assert all(any(k.startswith(prefix) for k in en) for prefix in used - whole)
    assert sorted(p.stem for p in LOCALES.glob("*.toml")) == ["en", "fr"]


def test_overlapping_flags_cut_the_text_at_every_boundary() -> None:
    text = "PROMO FLASH today"
    flags = [{"start": 0, "end": 11, "type": "banned_term"}, {"start": 0, "end": 5, "type": "hard_sell"},
             {"start": 40, "end": 50, "type": "outside"}]
    segments = highlight(text, flags)
    assert "".join(s.text for s in segments) == text
    assert [(s.text, [f["type"] for f in s.flags]) for s in segments] == [
        ("PROMO", ["banned_term", "hard_sell"]), (" FLASH", ["banned_term"]), (" today", [])]


def test_word_diff_marks_words_not_characters() -> None:
    parts = word_diff("Post your question below.", "Post your best question here.")
    assert [(p.op, p.text) for p in parts if p.op != "same"] == [("ins", "best "), ("del", "below."), ("ins", "here.")]
    assert "".join(p.text for p in parts if p.op != "del") == "Post your best question here."


def test_charts_leave_gaps_for_missing_weeks() -> None:
    rows = [{"week_start": "2026-11-01", "v": 0.5}, {"week_start": "2026-11-08", "v": None},
            {"week_start": "2026-11-15", "v": 0.2}, {"week_start": "2026-11-22", "v": 0.4}]
    chart = series("x", rows, nested("v"), percent=True)
    assert len(chart.lines) == 1 and len(chart.lines[0].split()) == 2  # the first point stands alone
    assert chart.points[1].y is None and chart.points[0].y < chart.points[2].y  # higher value, higher on screen

    class Weekly(BaseModel):
        weekly: list[dict] = []

    assert plain(Weekly())["weekly"] == []


def test_sign_out_needs_the_token_and_ends_the_session(client: TestClient, desk: dict) -> None:
    _signed_in(client, desk["key"])
    page = client.get(f"/desk/{desk['brand']}/drafts")
    assert client.post("/desk/sign-out", data={"csrf": "forged"}).status_code == 403
    assert client.get(f"/desk/{desk['brand']}/drafts", follow_redirects=False).status_code == 200
    r = client.post("/desk/sign-out", data={"csrf": csrf_of(page.text)}, follow_redirects=False)
    assert r.status_code == 303 and "copilot_desk=" in r.headers["set-cookie"] and "Max-Age=0" in r.headers["set-cookie"]
    r = client.get(f"/desk/{desk['brand']}/drafts", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/desk/sign-in")
