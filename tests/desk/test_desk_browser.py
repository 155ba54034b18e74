"""The desk in a real browser (Debian's Chromium under Playwright): sign in, walk the queue with the keyboard, open
a draft, hover a flag, edit with a conflict from a second browser context and merge, approve and publish, read the
dashboard on a desktop and on a phone. Every page is checked for console errors, for requests leaving the app, and
with an axe-core accessibility audit; each page is saved as a screenshot under tests/desk/artefacts/."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Iterator

import pytest

from tests.desk.conftest import ARTEFACTS

PHONE = {"width": 390, "height": 844}


@dataclass
class Watch:
    """What a page did besides rendering: console errors, failed requests, requests to other origins."""

    base: str
    errors: list[str] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)
    allowed_status: set[int] = field(default_factory=set)

    def attach(self, page: Any) -> None:
        page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        page.on("pageerror", lambda e: self.errors.append(f"page error: {e}"))
        page.on("request", lambda r: r.url.startswith(self.base) or self.foreign.append(r.url))

    def clean(self) -> list[str]:
        """Console errors, except the one Chromium logs for a page answered on purpose with a 4xx status."""
        expected = [f"status of {s}" for s in self.allowed_status]
        return [e for e in self.errors if not any(x in e for x in expected)]


def audit(page: Any, name: str, watch: Watch) -> None:
    """The checks every desk page passes: no console error, nothing fetched elsewhere, no axe violation;
    and its screenshot is kept."""
    from axe_playwright_python.sync_playwright import Axe

    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTEFACTS / f"{name}-viewport.png"))  # what the editor sees first (README images)
    page.screenshot(path=str(ARTEFACTS / f"{name}.png"), full_page=True)
    assert watch.clean() == [], f"{name}: console errors {watch.clean()}"
    assert watch.foreign == [], f"{name}: requests outside the app {watch.foreign}"
    results = Axe().run(page)
    assert results.violations_count == 0, f"{name}: accessibility violations\n{results.generate_report()}"
    watch.errors.clear()


@pytest.fixture
def desk(live_desk: dict[str, Any], chromium: Any) -> Iterator[dict[str, Any]]:
    """A French-speaking browser context per test, plus a helper to open more (the second editor)."""
    contexts: list[Any] = []

    def open_context(locale: str = "fr-FR", viewport: dict[str, int] | None = None) -> tuple[Any, Watch]:
        context = chromium.new_context(locale=locale, viewport=viewport or {"width": 1280, "height": 900})
        contexts.append(context)
        page = context.new_page()
        watch = Watch(live_desk["base"])
        watch.attach(page)
        return page, watch

    yield {**live_desk, "open": open_context}
    for context in contexts:
        context.close()


def sign_in(page: Any, base: str, key: str) -> None:
    page.goto(f"{base}/desk/sign-in")
    page.get_by_label(re.compile("Clé de marque|Brand key")).fill(key)
    page.get_by_role("button", name=re.compile("Se connecter|Sign in")).click()
    page.wait_for_load_state()


def test_sign_in_walk_the_queue_and_read_a_flag(desk: dict[str, Any]) -> None:
    page, watch = desk["open"]()
    base, brand = desk["base"], desk["brand"]
    page.goto(f"{base}/desk/{brand}/drafts")
    assert page.url.startswith(f"{base}/desk/sign-in")  # not signed in: sent to the form
    audit(page, "signin", watch)
    sign_in(page, base, desk["keys"]["editor"])
    assert page.url == f"{base}/desk/{brand}/drafts"
    assert page.get_by_text("Connecté·e : Alice Editor").is_visible()  # the key's actor name
    assert page.locator("h1").inner_text() == "File de relecture"  # the browser's language
    rows = page.locator("tr[data-row]")
    assert rows.count() == 3
    assert page.locator(".counts a", has_text="Rejeté").locator(".count").inner_text() == "1"
    audit(page, "queue", watch)

    page.keyboard.press("j")
    first = rows.nth(0).locator("a").inner_text()
    assert page.evaluate("document.activeElement.textContent") == first
    page.keyboard.press("j")
    page.keyboard.press("k")
    assert "current" in (rows.nth(0).get_attribute("class") or "")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/drafts/[0-9a-f]{32}$"))

    page.goto(f"{base}/desk/{brand}/drafts?status=rejected")
    assert page.locator("tr[data-row]").count() == 1

    page.goto(f"{base}/desk/{brand}/drafts/{desk['flagged']}")
    flag = page.locator("#draft-text mark.flag").first
    tip = flag.locator(".tip")
    assert not tip.is_visible()
    flag.hover()
    assert tip.is_visible()
    assert "Charte :" in tip.inner_text() and "majuscules" in tip.inner_text().lower()
    assert page.locator("#guards-failing").is_visible()  # the promotional line fails the guards
    assert page.locator(".cites blockquote").count() >= 1  # cited messages and charter passages beside the text
    audit(page, "draft", watch)

    page.goto(f"{base}/desk/{desk['english']}/drafts")  # another brand's queue does not exist for this key
    assert page.locator("h1").inner_text() == "Cela n'a pas fonctionné"
    assert "autre marque" in page.locator("[role=alert]").inner_text()


def test_conflicting_edits_are_merged_then_the_draft_is_approved_and_published(desk: dict[str, Any]) -> None:
    base, brand, draft = desk["base"], desk["brand"], desk["flagged"]
    alice, alice_watch = desk["open"]()
    bruno, _ = desk["open"]()
    sign_in(alice, base, desk["keys"]["editor"])
    sign_in(bruno, base, desk["keys"]["second"])
    url = f"{base}/desk/{brand}/drafts/{draft}"
    alice.goto(url)
    bruno.goto(url)
    start = int(alice.locator("#draft-version").inner_text())

    bruno.locator("#edit-body").fill("Bruno's version: ask your questions in this thread, members answer too.")
    bruno.get_by_role("button", name="Enregistrer une nouvelle révision").click()
    assert bruno.locator("#notice").is_visible()

    mine = "Alice's version: post your question below; the team and members who had the same issue reply."
    alice.locator("#edit-body").fill(mine)
    alice_watch.allowed_status.update({409, 422})
    alice.get_by_role("button", name="Enregistrer une nouvelle révision").click()
    conflict = alice.locator("#conflict")
    assert conflict.is_visible()
    assert "Bruno's version" in alice.locator("#conflict-theirs").inner_text()
    assert alice.locator("#conflict-mine").inner_text() == mine
    assert "Alice" in alice.locator("#conflict-diff ins").first.inner_text()  # word diff from theirs to mine
    audit(alice, "conflict", alice_watch)
    alice.get_by_role("button", name="Partir de la version actuelle").click()
    assert alice.locator("#merge-body").input_value().startswith("Bruno's version")
    alice.locator("#merge-body").fill(mine + " Bruno's idea kept: members answer too.")
    alice.get_by_role("button", name="Enregistrer la fusion").click()
    assert alice.locator("#notice").is_visible()
    assert int(alice.locator("#draft-version").inner_text()) == start + 2
    assert alice.locator("#rev-%d ins" % (start + 2)).count() >= 1  # the word diff of the merge
    assert "fusion après conflit" in alice.locator("#rev-%d" % (start + 2)).inner_text()

    decide = alice.locator("#decide-form")
    decide.get_by_role("button", name="Soumettre à relecture").click()
    assert alice.locator("#draft-status").inner_text() == "En relecture"
    alice.locator("#decide-form").get_by_role("button", name="Demander des modifications").click()
    assert "a comment is required" in alice.locator("main").inner_text()  # refused by the server, field named
    alice.goto(url)
    assert alice.locator("#draft-status").inner_text() == "En relecture"
    alice.locator("#decide-form").get_by_role("button", name="Approuver").click()
    alice.wait_for_load_state()
    assert alice.locator("#draft-status").inner_text() == "Approuvé", alice.locator("main").inner_text()[:500]
    alice.locator("#decide-permalink").fill("https://community.example.org/posts/42")
    alice.locator("#decide-form").get_by_role("button", name="Marquer comme publié").click()
    assert alice.locator("#draft-status").inner_text() == "Publié"
    history = alice.locator("ol.decisions").inner_text()
    assert "Alice Editor" in history and "Approuver" in history and "Marquer comme publié" in history
    audit(alice, "published", alice_watch)


def test_dashboard_on_desktop_and_phone_in_both_languages(desk: dict[str, Any]) -> None:
    base = desk["base"]
    page, watch = desk["open"]()
    sign_in(page, base, desk["keys"]["editor"])
    page.goto(f"{base}/desk/{desk['brand']}")
    assert page.locator("h1").inner_text() == "Santé de la communauté"
    assert page.locator("figure.chart svg polyline").count() >= 3
    assert page.locator("#chart-participation title").text_content().startswith("Participation")
    assert page.locator("ol.spotlight > li").count() >= 1 and "consentement" in page.locator("ol.spotlight").inner_text()
    assert page.locator("#drift-title").is_visible()
    audit(page, "dashboard", watch)

    phone, phone_watch = desk["open"]("en-GB", PHONE)
    sign_in(phone, base, desk["keys"]["english"])  # an admin-scoped key of the English brand
    phone.goto(f"{base}/desk/{desk['english']}")
    assert phone.locator("h1").inner_text() == "Community health"
    assert phone.evaluate("document.scrollingElement.scrollWidth <= window.innerWidth + 1"), "horizontal scroll"
    audit(phone, "dashboard-phone-en", phone_watch)
    phone.goto(f"{base}/desk/{desk['english']}/drafts/{desk['other_brand_draft']}")
    assert phone.evaluate("document.scrollingElement.scrollWidth <= window.innerWidth + 1"), "horizontal scroll"
    audit(phone, "draft-phone-en", phone_watch)
