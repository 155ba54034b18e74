"""Value types shared by every pipeline step: normalised members, messages and the typed charter."""

from __future__ import annotations

import hashlib
import warnings
from datetime import datetime, timezone
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints, model_validator

Role = Literal["member", "staff", "bot"]
CONSENT_WORDS = {True: "opt_in", False: "opt_out", None: "unknown", "yes": "opt_in", "no": "opt_out", "oui": "opt_in",
                 "non": "opt_out", "true": "opt_in", "false": "opt_out", "opt-in": "opt_in", "opt-out": "opt_out",
                 "granted": "opt_in", "denied": "opt_out", "": "unknown"}


def _consent_word(value: Any) -> Any:
    """Consent as exports write it (true/false, yes/no, oui/non, opt-in) -> opt_in / opt_out / unknown."""
    key = value.strip().lower() if isinstance(value, str) else value
    return CONSENT_WORDS.get(key, value) if isinstance(key, (str, bool)) or key is None else value


Consent = Annotated[Literal["opt_in", "opt_out", "unknown"], BeforeValidator(_consent_word)]
MessageKind = Literal["question", "answer", "post", "comment", "doc", "charter"]
Scope = Literal["read", "draft", "review", "admin"]
SourceId = Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]
Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{1,38}[a-z0-9]$")]

MAX_TEXT_CHARS = 100_000


def utc(dt: datetime) -> datetime:
    """Return `dt` as an aware UTC datetime (naive values are taken as UTC)."""
    return dt.replace(tzinfo=timezone.utc) if dt.tzinfo is None else dt.astimezone(timezone.utc)


EARLIEST, LATEST = datetime(1900, 1, 1, tzinfo=timezone.utc), datetime(9999, 1, 1, tzinfo=timezone.utc)


def bounded_utc(dt: datetime) -> datetime:
    """`dt` in UTC, or ValueError when it lies outside 1900-01-01 .. 9999-01-01 (where date arithmetic and
    time zone conversion overflow)."""
    try:
        value = utc(dt)
    except OverflowError:
        value = None
    if value is None or not EARLIEST <= value <= LATEST:
        raise ValueError("date must be between 1900-01-01 and 9999-01-01 (UTC)")
    return value


def web_url(value: str) -> str:
    """An absolute http(s) URL, or ValueError (no javascript:, data: or relative links)."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(value.strip())
    except ValueError as exc:
        raise ValueError(f"not a valid URL: {exc}") from exc
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc or any(c.isspace() for c in value.strip()):
        raise ValueError("must be an absolute http:// or https:// URL")
    return value.strip()


Timestamp = Annotated[datetime, AfterValidator(bounded_utc)]
WebUrl = Annotated[str, StringConstraints(max_length=2000), AfterValidator(web_url)]


def content_hash(*parts: str | None) -> str:
    """Stable hash of the text that gets embedded; unchanged hash means no re-embedding."""
    return hashlib.sha256("\x1f".join(p or "" for p in parts).encode("utf-8")).hexdigest()


def _unstorable(value: Any, path: str = "") -> str | None:
    """Where a value holds text no database can store (NUL characters, lone surrogates), or None."""
    if isinstance(value, str):
        if "\x00" in value:
            return f"{path or 'value'}: contains a NUL (\\u0000) character"
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return f"{path or 'value'}: contains an invalid Unicode surrogate"
    elif isinstance(value, dict):
        for k, v in value.items():
            found = _unstorable(k, f"{path}.{k}" if path else str(k)) or _unstorable(v, f"{path}.{k}" if path else str(k))
            if found:
                return found
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            found = _unstorable(v, f"{path}.{i}" if path else str(i))
            if found:
                return found
    return None


class Input(BaseModel):
    """Base of everything read from outside: unknown fields and unstorable text are refused with the field named."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _storable(cls, data: Any) -> Any:
        problem = _unstorable(data)
        if problem:
            raise ValueError(problem)
        return data


class Record(Input):
    """Base for normalised ingestion records."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


class MemberRecord(Record):
    """A community member as any source describes them."""

    source: SourceId = "native"
    source_id: SourceId
    name: Annotated[str, StringConstraints(max_length=200)] = ""
    role: Role = "member"
    consent_spotlight: Consent = "unknown"
    consent_analytics: Consent = "unknown"
    joined_at: Timestamp | None = None


class MessageRecord(Record):
    """A message, post, question, answer or comment in the community history."""

    source: SourceId = "native"
    source_id: SourceId
    channel: Annotated[str, StringConstraints(max_length=200)] | None = None
    author: Annotated[str, StringConstraints(max_length=200)] | None = Field(
        default=None, description="the author's source_id in the same source"
    )
    author_name: Annotated[str, StringConstraints(max_length=200)] | None = None
    created_at: Timestamp
    title: Annotated[str, StringConstraints(max_length=1000)] | None = None
    text: Annotated[str, StringConstraints(max_length=MAX_TEXT_CHARS)]
    reply_to: SourceId | None = None
    thread: SourceId | None = None
    reactions: dict[Annotated[str, StringConstraints(max_length=100)], Annotated[int, Field(ge=0, le=10_000_000)]] = Field(
        default_factory=dict
    )
    kind: MessageKind = "post"
    is_solution: bool = False
    lang: Annotated[str, StringConstraints(max_length=8)] | None = None
    permalink: WebUrl | None = None
    deleted: bool = False

    def digest(self) -> str:
        """Hash of the fields that are embedded and indexed."""
        return content_hash(self.title, self.text, self.kind, self.channel, self.author)


class RecordError(BaseModel):
    """A record that could not be read, with where it was."""

    location: str
    message: str


class MemberCounts(BaseModel):
    """What an import did to members."""

    inserted: int = 0
    updated: int = 0
    unchanged: int = 0


class MessageCounts(MemberCounts):
    """What an import did to messages (`deleted`: records marked deleted in the source)."""

    deleted: int = 0


# ---------------------------------------------------------------- charter


class Passage(BaseModel):
    """A verbatim passage of the charter; every structured item points to one."""

    id: str
    section: str
    text: str


class CharterItem(BaseModel):
    """One structured statement (a value, a tone descriptor, a rule) and where it came from."""

    text: str
    passage_id: str


class Term(BaseModel):
    """A lexicon entry: a preferred term (optionally replacing others) or a banned one."""

    term: str
    instead_of: list[str] = Field(default_factory=list)
    passage_id: str
    # When the charter limits the swap ("… quand vous parlez des abeilles elles-mêmes"): the replaced word is
    # right elsewhere, so a post using it is only worth a look, and no text is rewritten with it.
    condition: str | None = None


class Ritual(BaseModel):
    """A recurring community ritual described by the charter."""

    name: str
    cadence: str | None = None
    format: str | None = None
    passage_id: str


class PromotionPolicy(BaseModel):
    """What the charter allows in brand promotion."""

    max_promotional_share: float | None = Field(default=None, ge=0, le=1)
    rules: list[CharterItem] = Field(default_factory=list)
    passage_id: str | None = None


# `register` is the charter's own word (tu/vous); it only shadows ABC.register, which pydantic models never use.
warnings.filterwarnings("ignore", message='Field name "register"')

RuleType = Literal["no_share_asks", "no_tag_asks", "no_contests_for_reach", "no_promo_codes", "no_urgency",
                   "no_superlatives", "no_shouting", "no_gated_participation", "no_personal_data_asks",
                   "factual_announcements_allowed"]


class CharterRule(BaseModel):
    """A rule of conduct the charter states, typed from a closed set, with the clause that says it."""

    type: RuleType
    text: str
    passage_id: str


class CharterFinding(BaseModel):
    """One thing a model read in the charter that the rules parser did not: a term, a rule or a limit, with the
    exact words of the charter that say it. Applied to the charter only once the CM confirms it."""

    id: str = Field(description="stable: the same finding keeps its id across readings")
    field: Literal["banned_terms", "preferred_terms", "rules", "register", "emoji_limit", "exclamation_limit"]
    term: str | None = None
    instead_of: list[str] = Field(default_factory=list)
    rule_type: RuleType | None = None
    register: Literal["tu", "vous"] | None = None
    number: int | None = None
    quote: str = Field(description="the charter's own words, found verbatim in its text")
    passage_id: str | None = None
    note: str | None = Field(default=None, description="when the rules parser read something else there")


class CharterReview(BaseModel):
    """How the model's reading of the charter compares with the rules parser's."""

    engine: Literal["llm"] = "llm"
    model: str | None = None
    degraded: bool = False
    degraded_reason: str | None = None
    agreed: int = Field(default=0, description="findings both readings made")
    rules_only: list[str] = Field(default_factory=list, description="what the rules read and the model did not")
    refused: list[str] = Field(default_factory=list, description="model findings refused: not supported by the text")
    note: str | None = None


class Unparsed(BaseModel):
    """Part of the charter the parser could not place; reported, never dropped.

    `kind` says how much: a whole section nothing could be read from ("section"), the leftover passages of a
    section that was read ("passages"), or top-level metadata values no field uses ("metadata")."""

    section: str
    reason: str
    passage_ids: list[str] = Field(default_factory=list)
    kind: Literal["section", "passages", "metadata"] = "section"




class Charter(BaseModel):
    """A brand's typed charter."""

    brand: str | None = None
    title: str | None = None
    languages: list[str] = Field(default_factory=list)
    register: Literal["tu", "vous"] | None = None
    vision: list[CharterItem] = Field(default_factory=list)
    values: list[CharterItem] = Field(default_factory=list)
    tone: list[CharterItem] = Field(default_factory=list)
    preferred_terms: list[Term] = Field(default_factory=list)
    banned_terms: list[Term] = Field(default_factory=list)
    rituals: list[Ritual] = Field(default_factory=list)
    promotion_policy: PromotionPolicy = Field(default_factory=PromotionPolicy)
    emoji_limit: int | None = None
    exclamation_limit: int | None = None
    max_posts_per_day: int | None = None
    max_post_chars: int | None = Field(default=None, description="the longest post the charter allows, in characters "
                                                                 "(a limit in words is read as 6 characters a word)")
    rules: list[CharterRule] = Field(default_factory=list)
    intro: list[CharterItem] = Field(default_factory=list)
    # With an LLM configured: what the model read that the rules did not, waiting for the CM (`proposals`), what
    # the CM confirmed (applied above, and carried over to later versions while their words stay in the text),
    # and how the two readings compare.
    proposals: list[CharterFinding] = Field(default_factory=list)
    confirmed: list[CharterFinding] = Field(default_factory=list)
    review: CharterReview | None = None
    # Which passage each scalar setting (register, emoji_limit, exclamation_limit, max_posts_per_day) was read from.
    sources: dict[str, str] = Field(default_factory=dict)
    passages: list[Passage] = Field(default_factory=list)
    unparsed: list[Unparsed] = Field(default_factory=list)
    source_format: Literal["markdown", "yaml", "json"] = "markdown"
