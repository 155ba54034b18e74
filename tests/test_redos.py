"""Every path that reads user text runs in time linear in the text (regular-expression denial of service).

A read-only key could post 20,000 characters of "Super offre" and colons to the drift check and hold the
process (and its GIL, so /healthz too) for seconds: patterns that start a match at every position of a long
run and scan to its end are quadratic. Here each user-text path gets adversarial texts (long runs of every
ASCII punctuation character and every kind of whitespace, alternations, mixed scripts, emoji, URL- and
number-like runs, after a few words) and must stay within BUDGET_RATIO times the same call on plain prose of
the same length, plus a small floor: a ratio, never an absolute time, so a slow or busy machine slows both.
"""

from __future__ import annotations

import gc
import importlib
import inspect
import json
import pkgutil
import string
import time
from collections.abc import Callable
from typing import Any

import pytest
from fastapi import APIRouter
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from copilot.api import routes
from copilot.features.drift import FeedStats, check_text, pattern_flags
from copilot.features.rewrite import member_first_rewrite
from copilot.ingest.charter import parse_charter
from copilot.ingest.conversation import is_question
from copilot.privacy import Pseudonyms, redact
from copilot.signals import bits
from copilot.slack import blocks
from copilot.text import analyse, detect_language
from copilot.untrusted import quote_member
from tests.conftest import ADMIN, ROOT, make_key

BUDGET_RATIO, FLOOR_S = 25.0, 0.05
CHARTER = parse_charter((ROOT / "knowledge" / "charter.md").read_text(encoding="utf-8"))
FEED = FeedStats(brand_posts=10, promotional_posts=2, recent_promotional=[True, False, True])
PROSE = ("Le club se retrouve jeudi soir à l'atelier pour réparer les vélos des membres, partager des astuces "
         "et accueillir les nouveaux. Thanks to everyone who came last week, the new tools work well! ")
PREFIXES = ["Super offre", "Dernière chance : achetez vite notre kit entretien premium",
            "Partage ce post et tague 3 amis pour gagner", "Merci à tous", "Quelqu'un sait comment régler ça ?", ""]

WHITESPACE = [" ", "\t", "\n", "\r", "\x0b", "\x0c", "\xa0", "\u2028", "\u3000"]
ALTERNATIONS = [": ", ",\n", ". ", "! ", "? ", " !", ", ", ";\t", "-\n", "*_", "[]", "()", "<>", "« ", "\r\n", "# ",
                "- ", "**", "a ", "A ", "a-", "a.", "a@", "@a", "é ", "É"]
TYPOGRAPHY = ["«", "»", "“", "”", "’", "—", "–", "…", "→", "€", "×", "·", "\u200b", "\ufeff"]
SCRIPTS = ["Привет мир ", "مرحبا بالعالم ", "你好世界", "こんにちは", "Γειά σου ", "Ab1", "A×", "ǅ"]
EMOJI = ["😀", "👍🏽", "👨‍👩‍👧‍👦", "🏳️‍🌈", "❤️", "🚴‍♀️ ", "✨!"]
URLISH = ["http://a.", "https://a.a/", "a.", "www.", "www.a.", "a.com.", "a-", "a/b", "ftp://", "http:// "]
NUMBERISH = ["1.", "1,000,", "12 ", "12 34 56 ", "06 12 34 56 78 ", "1", "0", "+1 ", "(1) ", "1-", "1/", "1:",
             "2026-11-27 ", "700x25c ", "49 € ", "10 % ", "1 sur 5 "]
UNITS = list(string.punctuation) + WHITESPACE + TYPOGRAPHY + ALTERNATIONS + SCRIPTS + EMOJI + URLISH + NUMBERISH


def _charter_markdown(text: str) -> str:
    # The text where each part of the Markdown parser reads it: a heading, a lexicon item, a tone paragraph,
    # a ritual, a promotion rule.
    return (f"# Charte {text}\n\n## Lexique\n\n- {text}\n- « vélo » plutôt que {text}\n\n## Ton\n\n{text}\n\n"
            f"## Rituels\n\n- **Jeudi** : {text}\n\n## Promotion\n\n{text}\n")


def _charter_yaml(text: str) -> str:
    # JSON is YAML (flow style) and far quicker to write than yaml.safe_dump; YAML's own line breaks escaped.
    source = json.dumps({"title": text, "tone": [text], "lexicon": {"banned": [text]}}, ensure_ascii=False)
    return source.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029").replace("\x85", "\\x85")


def _pseudonyms() -> Pseudonyms:
    pseudonyms = Pseudonyms()
    for name in ("Jeanne", "Sam", "Zoé Martin"):
        pseudonyms.alias(name)
    return pseudonyms


def _slack(text: str) -> Any:
    rewrite = {"verdict": "drift", "score": 0.9, "flags": [{"type": "urgency"}], "rewrite": text}
    return blocks.drift_blocks(rewrite) + blocks.text_blocks(text) + blocks.warning_blocks(text)


def _same(text: str) -> str:
    return text


# Every function that reads community or brand text as a user can send it: (prepare, run); only run is timed.
TARGETS: dict[str, tuple[Callable[[str], Any], Callable[[Any], Any]]] = {
    "drift.check": (_same, lambda t: check_text(t, charter=CHARTER, feed=FEED)),
    "drift.rewrite": (lambda t: (t, pattern_flags(t)),  # always rewritten, whatever the verdict
                      lambda tf: member_first_rewrite(tf[0], tf[1], charter=CHARTER, lang="fr")),
    "charter.markdown": (_charter_markdown, lambda source: parse_charter(source, "markdown")),
    "charter.yaml": (_charter_yaml, lambda source: parse_charter(source, "yaml")),
    "privacy.redact": (_same, redact),
    "privacy.scrub": (_same, lambda t: _pseudonyms().scrub(t)),
    "untrusted.quote": (_same, quote_member),
    "text.analyse": (_same, analyse),  # words, stems and the language
    "text.language": (_same, detect_language),
    "signals": (_same, bits),
    "conversation.is_question": (_same, is_question),
    "slack.blocks": (_same, _slack),
}


def _timed(name: str, text: str) -> float:
    prepare, run = TARGETS[name]
    arg = prepare(text)
    gc.disable()  # a collection would land on whichever call allocated last
    try:
        start = time.perf_counter()
        run(arg)
        return time.perf_counter() - start
    finally:
        gc.enable()


_plain_times: dict[tuple[str, int], float] = {}


def _budget(name: str, length: int, *, fresh: bool = False) -> float:
    """BUDGET_RATIO × the target's time on prose of about the same length (cached per 2,500 characters,
    rounded up), plus FLOOR_S."""
    bucket = -(-length // 2500) * 2500
    if fresh or (name, bucket) not in _plain_times:
        prose = (PROSE * (bucket // len(PROSE) + 1))[:bucket]
        _plain_times[name, bucket] = min(_timed(name, prose) for _ in range(2))
    return BUDGET_RATIO * _plain_times[name, bucket] + FLOOR_S


def assert_linear(name: str, text: str) -> None:
    """The target's time on `text` is within the budget set by its time on prose of the same length."""
    spent = _timed(name, text)
    if spent > _budget(name, len(text)):  # a busy machine: measure both again before calling it slow
        spent = min(spent, _timed(name, text))
        assert spent <= _budget(name, len(text), fresh=True), \
            f"{name} took {spent:.3f}s on {text[:40]!r}… ({len(text)} chars), budget {_budget(name, len(text)):.3f}s"


def adversarial(prefix: str, unit: str, length: int, suffix: str = "x") -> str:
    """A few words, then `unit` repeated to `length` characters, then a suffix that breaks the run."""
    head = f"{prefix} " if prefix else ""
    return head + (unit * (length // len(unit) + 1))[:length] + suffix


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_every_run_of_punctuation_and_whitespace_is_linear(name: str):
    """Each ASCII punctuation character, whitespace class and tricky unit repeated, through each path; 1,000
    characters first, so a quadratic (or worse) pattern fails there before 4,000 would take minutes."""
    for unit in UNITS:
        for length in (1_000, 4_000):
            assert_linear(name, adversarial("Dernière chance : achetez vite notre kit", unit, length))


@settings(max_examples=25, derandomize=True, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(prefix=st.sampled_from(PREFIXES), units=st.lists(st.sampled_from(UNITS), min_size=1, max_size=3),
       length=st.integers(5_000, 20_000), suffix=st.sampled_from(["", "x", " fin.", "!", "\n", "?", "@a.fr"]),
       names=st.lists(st.sampled_from(sorted(TARGETS)), min_size=2, max_size=3, unique=True))
def test_long_adversarial_texts_stay_linear(prefix: str, units: list[str], length: int, suffix: str,
                                            names: list[str]):
    """Mixed runs up to 20,000 characters (units alternated: ": ", emoji then colons, digits then spaces …)."""
    text = adversarial(prefix, "".join(units), length, suffix)
    for name in names:
        assert_linear(name, text)


# The reported inputs (20,000 characters, the API's limit), and the same runs after words that drift, so
# the rewrite runs on them too.
FINDING = [("Super offre" + run * 20_000)[:20_000] for run in (":", "\n", ",", "\t", " ")]
DRIFTING = [("Dernière chance : achetez vite notre kit entretien premium" + run * 20_000)[:19_996] + " fin"
            for run in (":", "\n", ",", "\t", " ", "\u2028")]


@pytest.mark.parametrize("text", FINDING + DRIFTING, ids=lambda t: f"{t[:5]}{t[-6:-4]!r}")
def test_the_finding_inputs_through_rules_and_rewrite(text: str):
    """The reported 20,000-character texts, through the rules engine and the member-first rewrite."""
    assert_linear("drift.check", text)
    assert_linear("drift.rewrite", text)


def test_the_finding_inputs_through_the_http_endpoint(client: TestClient, brand: str):
    """A read-only key posting the reported texts gets answers in about the time plain prose takes."""
    assert client.put(f"/v1/brands/{brand}/charter", headers=ADMIN, json={
        "content": (ROOT / "knowledge" / "charter.md").read_text(encoding="utf-8")}).status_code == 200
    reader = make_key(client, brand, "read")

    def post(text: str) -> float:
        start = time.perf_counter()
        r = client.post(f"/v1/brands/{brand}/drift/checks", headers=reader, json={"text": text})
        assert r.status_code == 200, r.text
        return time.perf_counter() - start

    plain = min(post((PROSE * 200)[:20_000]) for _ in range(2))
    for text in FINDING + DRIFTING[:2]:
        spent = post(text)
        if spent > BUDGET_RATIO * plain + FLOOR_S:  # a busy machine: measure again before calling it slow
            spent = min(spent, post(text))
        assert spent <= BUDGET_RATIO * plain + FLOOR_S, (text[:20], spent, plain)


CPU_HEAVY = {"checkDrift", "driftReport", "draftRitual", "spotlight", "vitality", "search", "putCharter",
             "draftShoutout", "upsertHistory"}


def test_cpu_heavy_routes_run_in_the_thread_pool():
    """A slow request never runs on the event loop: CPU-heavy routes are plain functions, which FastAPI runs
    in its thread pool, so /healthz and other requests are still served while one computes."""
    modules = [importlib.import_module(f"copilot.api.routes.{m.name}") for m in pkgutil.iter_modules(routes.__path__)]
    found = {r.operation_id: r.endpoint for module in modules for router in vars(module).values()
             if isinstance(router, APIRouter) for r in router.routes if isinstance(r, APIRoute)}
    assert CPU_HEAVY <= set(found), CPU_HEAVY - set(found)
    assert not [op for op in CPU_HEAVY if inspect.iscoroutinefunction(found[op])]
