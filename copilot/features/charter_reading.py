"""LLM-assisted charter reading: the model reads the charter into the same typed fields as the rules parser
(banned and preferred terms, typed rules, register, emoji and exclamation limits), every finding quoting the
charter's own words.

Nothing the model says reaches the charter on its word:
- each finding must quote words found verbatim in the charter (spaces, case, accents and quote marks aside), and
  its term must be inside its quote; a finding that fails is refused and listed with the reason;
- an answer where most findings are refused is invalid: the reasons go back to the model for one more try;
- findings the rules parser made too are counted as agreed; the rules parser's findings the model missed are
  listed (`rules_only`); the model's new findings become **proposals** (only when their quote lies in a passage
  of the charter, which they cite: a quote found only in the front matter or a heading is refused), applied only
  when the CM confirms them
  (`POST /v1/brands/{brand}/charter/findings`). Confirmed findings are carried to later versions of the charter
  while their words are still in it.
When the model fails, the rules parse stands alone and the review says why (`degraded_reason`).
"""

from __future__ import annotations

import hashlib
import re
import time
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from copilot.errors import InvalidInput
from copilot.llm import LLM, LLMFailure
from copilot.privacy import fence
from copilot.prompts import render
from copilot.text import strip_accents
from copilot.types import Charter, CharterFinding, CharterReview, CharterRule, RuleType, Term

MAX_SOURCE_CHARS = 12_000  # what the model is shown of a charter (a long one is read in part; the review says so)
QUOTE_MARKS = str.maketrans({"’": "'", "‘": "'", "«": '"', "»": '"', "“": '"', "”": '"', "\u00a0": " "})


class _Quoted(BaseModel):
    model_config = ConfigDict(extra="forbid")
    quote: str = Field(min_length=3, max_length=400, description="the charter's exact words that say it")


class QuotedTerm(_Quoted):
    """A term the charter bans."""

    term: str = Field(min_length=1, max_length=80)


class QuotedPreferred(_Quoted):
    """A term the charter prefers, and the ones it replaces."""

    term: str = Field(min_length=1, max_length=80)
    instead_of: list[str] = Field(default_factory=list, max_length=10)


class QuotedRule(_Quoted):
    """A rule of conduct of the closed set."""

    type: RuleType


class QuotedLimit(_Quoted):
    """A per-post limit."""

    number: int = Field(ge=0, le=50)


class QuotedRegister(_Quoted):
    """How members are addressed in French."""

    register: Literal["tu", "vous"]


class CharterReadingOut(BaseModel):
    """What the model must return when reading a charter."""

    model_config = ConfigDict(extra="forbid")
    banned_terms: list[QuotedTerm] = Field(default_factory=list, max_length=40)
    preferred_terms: list[QuotedPreferred] = Field(default_factory=list, max_length=40)
    rules: list[QuotedRule] = Field(default_factory=list, max_length=20)
    register: QuotedRegister | None = None
    emoji_limit: QuotedLimit | None = None
    exclamation_limit: QuotedLimit | None = None


def _norm(text: str) -> str:
    return " ".join(strip_accents(text.translate(QUOTE_MARKS).lower()).split())


def _inside(needle: str, hay: str) -> bool:
    """Whether `needle` occurs in `hay` (both normalised), as whole words."""
    n = _norm(needle).strip(" .,;:\"'")
    return len(n) >= 2 and re.search(r"(?<!\w)" + re.escape(n) + r"(?!\w)", hay) is not None


def _findings(out: CharterReadingOut) -> list[tuple[CharterFinding, list[str]]]:
    """Every finding of the answer as a CharterFinding, with the words that must appear in its quote."""
    items: list[tuple[CharterFinding, list[str]]] = []
    for t in out.banned_terms:
        items.append((CharterFinding(id="", field="banned_terms", term=t.term.strip(), quote=t.quote), [t.term]))
    for p in out.preferred_terms:
        items.append((CharterFinding(id="", field="preferred_terms", term=p.term.strip(),
                                     instead_of=[i.strip() for i in p.instead_of if i.strip()], quote=p.quote),
                      [p.term, *p.instead_of]))
    for r in out.rules:
        items.append((CharterFinding(id="", field="rules", rule_type=r.type, quote=r.quote), []))
    if out.register:
        items.append((CharterFinding(id="", field="register", register=out.register.register,
                                     quote=out.register.quote), []))
    for name in ("emoji_limit", "exclamation_limit"):
        limit: QuotedLimit | None = getattr(out, name)
        if limit is not None:
            items.append((CharterFinding(id="", field=name, number=limit.number, quote=limit.quote), []))  # type: ignore[arg-type]
    return [(f.model_copy(update={"id": finding_id(f)}), words) for f, words in items]


def finding_id(f: CharterFinding) -> str:
    """The same finding keeps its id across readings."""
    key = "|".join(str(x) for x in (f.field, _norm(f.term or ""), f.rule_type, f.register, f.number))
    return hashlib.sha1(key.encode("utf-8")).hexdigest()[:12]


def _what(f: CharterFinding) -> str:
    return f"{f.field.rstrip('s').replace('_', ' ')} '{f.term or f.rule_type or f.register or f.number}'"


def _refusal(f: CharterFinding, words: list[str], source: str) -> str | None:
    what = _what(f)
    if not _inside(f.quote, source):
        return f"{what}: its quote is not in the charter: '{f.quote[:80]}'"
    missing = [w for w in words if w.strip() and not _inside(w, _norm(f.quote))]
    if missing:
        return f"{what}: '{missing[0]}' is not in its quote"
    if f.field == "emoji_limit" and not re.search(r"emoji|emoticon|smiley|[\U0001F300-\U0001FAFF]", _norm(f.quote)):
        return f"{what}: its quote does not speak of emoji"
    if f.field == "exclamation_limit" and not re.search(r"exclamation|!", _norm(f.quote)):
        return f"{what}: its quote does not speak of exclamation marks"
    return None


def reading_problems(out: CharterReadingOut, source: str) -> list[str]:
    """Why an answer is not a reading of this charter: most of its findings are not supported by the text."""
    normalised, findings = _norm(source), _findings(out)
    refused = [r for f, w in findings if (r := _refusal(f, w, normalised))]
    supported = len(findings) - len(refused)
    return refused if refused and len(refused) >= supported else []


def _rules_reading(charter: Charter) -> dict[str, set[Any]]:
    return {"banned_terms": {_norm(t.term) for t in charter.banned_terms},
            "preferred_terms": {_norm(t.term) for t in charter.preferred_terms},
            "rules": {r.type for r in charter.rules},
            "register": {charter.register} - {None}, "emoji_limit": {charter.emoji_limit} - {None},
            "exclamation_limit": {charter.exclamation_limit} - {None}}


def _value(f: CharterFinding) -> Any:
    return {"banned_terms": _norm(f.term or ""), "preferred_terms": _norm(f.term or ""), "rules": f.rule_type,
            "register": f.register}.get(f.field, f.number)


def _passage_of(charter: Charter, quote: str) -> str | None:
    return next((p.id for p in charter.passages if _inside(quote, _norm(p.text))), None)


def compare(charter: Charter, out: CharterReadingOut, source: str) -> tuple[list[CharterFinding], CharterReview]:
    """The model's new findings (proposals) and how its reading compares with the rules parser's."""
    normalised = _norm(source)
    rules = _rules_reading(charter)
    seen: dict[str, set[Any]] = {k: set() for k in rules}
    proposals: list[CharterFinding] = []
    review = CharterReview()
    for f, words in _findings(out):
        refusal = _refusal(f, words, normalised)
        if refusal:
            review.refused.append(refusal)
            continue
        value = _value(f)
        seen[f.field].add(value)
        if value in rules[f.field]:
            review.agreed += 1
            continue
        note = f"the rules parser read {next(iter(rules[f.field]))}" if f.field not in (
            "banned_terms", "preferred_terms", "rules") and rules[f.field] else None
        passage = _passage_of(charter, f.quote)
        if passage is None:  # in the source, but only in its front matter or headings: nothing to show or cite
            review.refused.append(f"{_what(f)}: its quote is in no passage of the charter: '{f.quote[:80]}'")
            continue
        if f.id not in {p.id for p in proposals}:
            proposals.append(f.model_copy(update={"passage_id": passage, "note": note}))
    for field, values in rules.items():
        review.rules_only += [f"{field.rstrip('s').replace('_', ' ')} '{v}'" for v in sorted(values - seen[field], key=str)]
    return proposals, review


def apply(charter: Charter, findings: list[CharterFinding]) -> Charter:
    """The charter with confirmed findings applied (a confirmed scalar replaces the rules parser's)."""
    c = charter.model_copy(deep=True)
    for f in findings:
        pid = f.passage_id or _passage_of(c, f.quote) or "llm-reading"
        if f.field == "banned_terms" and f.term and _norm(f.term) not in {_norm(t.term) for t in c.banned_terms}:
            c.banned_terms.append(Term(term=f.term, passage_id=pid))
        elif f.field == "preferred_terms" and f.term and \
                _norm(f.term) not in {_norm(t.term) for t in c.preferred_terms}:
            c.preferred_terms.append(Term(term=f.term, instead_of=f.instead_of, passage_id=pid))
        elif f.field == "rules" and f.rule_type and f.rule_type not in {r.type for r in c.rules}:
            c.rules.append(CharterRule(type=f.rule_type, text=f.quote, passage_id=pid))
        elif f.field == "register" and f.register:
            c.register = f.register
            c.sources["register"] = pid
        elif f.field in ("emoji_limit", "exclamation_limit") and f.number is not None:
            setattr(c, f.field, f.number)
            c.sources[f.field] = pid
    return c


def carry_over(charter: Charter, previous: Charter | None, source: str) -> Charter:
    """A new version keeps the findings the CM confirmed on the previous one, while their words are still in
    the charter."""
    if previous is None or not previous.confirmed:
        return charter
    normalised = _norm(source)
    kept = [f for f in previous.confirmed if _inside(f.quote, normalised)]
    return apply(charter, kept).model_copy(update={"confirmed": kept})


def decide(charter: Charter, accept: list[str], reject: list[str]) -> Charter:
    """The charter after the CM confirmed some proposals and dismissed others (unknown ids are an error)."""
    pending = {p.id: p for p in charter.proposals}
    unknown = [i for i in [*accept, *reject] if i not in pending]
    if unknown:
        raise InvalidInput(f"no pending charter finding with id {', '.join(repr(i) for i in unknown)}; "
                           f"pending: {', '.join(pending) or 'none'}", field="accept")
    if set(accept) & set(reject):
        raise InvalidInput("a finding cannot be both accepted and rejected", field="reject")
    accepted = [pending[i] for i in accept]
    c = apply(charter, accepted)
    return c.model_copy(update={"confirmed": [*charter.confirmed, *accepted],
                                "proposals": [p for p in charter.proposals if p.id not in set(accept) | set(reject)]})


class CharterReader:
    """Reads a charter with the model and attaches the proposals and the review (never raises on model faults)."""

    def __init__(self, llm: LLM):
        self.llm = llm

    def read(self, brand: str, source: str, charter: Charter) -> Charter:
        """The charter with `proposals` and `review` from the model's reading."""
        started = time.monotonic()
        shown = source[:MAX_SOURCE_CHARS]
        lang = charter.languages[0] if charter.languages else "en"
        prompt = render("charter_reading", lang, rule_types=", ".join(RuleType.__args__),  # type: ignore[attr-defined]
                        charter=fence(shown))
        try:
            res = self.llm.complete(system=prompt.system, user=prompt.user, schema=CharterReadingOut,
                                    check=lambda out: reading_problems(out, shown), max_tokens=900,
                                    meta={"brand": brand, "feature": "charter_reading"}, started=started)
        except LLMFailure as exc:
            return charter.model_copy(update={"review": CharterReview(degraded=True,
                                                                      degraded_reason=f"llm failed: {exc.reason}")})
        proposals, review = compare(charter, res.value, shown)
        review.model = res.model
        if len(source) > MAX_SOURCE_CHARS:
            review.note = (f"the model read the first {MAX_SOURCE_CHARS:,} characters of {len(source):,}; "
                           "the rest is read by the rules parser only")
        confirmed = {f.id for f in charter.confirmed}
        return charter.model_copy(update={"proposals": [p for p in proposals if p.id not in confirmed],
                                          "review": review})
