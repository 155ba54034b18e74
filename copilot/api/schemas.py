"""Request and response bodies of the HTTP API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from copilot.features.drift import Flag
from copilot.types import Charter, Input, Consent, MemberRecord, MessageRecord, Role, Scope, Slug, Timestamp, WebUrl

MAX_BATCH = 1000


class Problem(BaseModel):
    """RFC 9457 problem document."""

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    field: str | None = None
    errors: list[dict[str, Any]] | None = None


class BrandIn(Input):
    model_config = ConfigDict(extra="forbid")
    id: Slug = Field(description="lower-case slug, 3-40 characters")
    name: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    language: Literal["fr", "en"] = "fr"


class BrandOut(BaseModel):
    id: str
    name: str
    language: str
    created_at: datetime


class KeyIn(Input):
    model_config = ConfigDict(extra="forbid")
    actor: Annotated[str, StringConstraints(min_length=1, max_length=200)] = Field(
        description="who uses the key; recorded in review history")
    scopes: list[Scope] = Field(min_length=1, max_length=4)


class KeyOut(BaseModel):
    id: str
    actor: str
    scopes: list[str]
    created_at: datetime
    revoked_at: datetime | None = None


class KeyCreated(KeyOut):
    key: str = Field(description="the secret, shown once")


class CharterIn(Input):
    model_config = ConfigDict(extra="forbid")
    content: Annotated[str, StringConstraints(min_length=1, max_length=500_000)]
    format: Literal["markdown", "yaml", "json"] | None = Field(default=None, description="detected when omitted")


class CharterFindingsIn(Input):
    """The CM's decisions on what the model read in the charter (ids from `charter.proposals`)."""

    model_config = ConfigDict(extra="forbid")
    accept: list[Annotated[str, StringConstraints(min_length=1, max_length=40)]] = Field(default_factory=list,
                                                                                         max_length=200)
    reject: list[Annotated[str, StringConstraints(min_length=1, max_length=40)]] = Field(default_factory=list,
                                                                                         max_length=200)


class CharterVersionOut(BaseModel):
    version: int
    source_format: str
    created_at: datetime
    digest: str


class CharterOut(CharterVersionOut):
    created: bool = Field(default=False, description="false when the same content was already the latest version")
    charter: Charter


class MemberOut(BaseModel):
    id: int
    source: str
    source_id: str
    name: str
    role: Role
    consent_spotlight: Consent
    consent_analytics: Consent
    joined_at: datetime | None = None


class MemberPage(BaseModel):
    items: list[MemberOut]
    total: int
    limit: int
    offset: int


class MemberPatch(Input):
    model_config = ConfigDict(extra="forbid")
    role: Role | None = None
    consent_spotlight: Consent | None = None
    consent_analytics: Consent | None = None


class HistoryBatch(Input):
    model_config = ConfigDict(extra="forbid")
    members: list[MemberRecord] = Field(default_factory=list, max_length=MAX_BATCH)
    messages: list[MessageRecord] = Field(default_factory=list, max_length=MAX_BATCH)


class IngestOut(BaseModel):
    members: dict[str, int]
    messages: dict[str, int]
    embedded: int
    errors: list[dict[str, str]]
    error_count: int


class JobOut(BaseModel):
    id: str
    brand: str
    kind: str
    format: str
    status: Literal["queued", "running", "succeeded", "failed"]
    file_name: str | None = None
    total: int | None = None
    processed: int
    counts: dict[str, Any]
    errors: list[dict[str, Any]]
    error_count: int
    detail: str | None = None
    draft_id: str | None = Field(default=None, description="an asynchronous draft's id, once the job succeeded: "
                                                           "read it with GET /v1/drafts/{draft_id}")
    created_at: datetime
    updated_at: datetime


class SearchHit(BaseModel):
    id: str = Field(description="the message's id in its source (a passage id for charter results)")
    source: str
    kind: str
    channel: str | None = None
    author: str | None = None
    author_name: str | None = None
    created_at: datetime
    title: str | None = None
    snippet: str
    permalink: str | None = None
    score: float = Field(description="hybrid: the weighted sum of the keyword and dense evidence (each normalised to "
                                     "0..1 and weighed by how much that side can tell for this query); lexical or "
                                     "dense mode: that ranking's own score (BM25, cosine similarity)")
    lexical_rank: int | None = None
    dense_rank: int | None = None
    matched_terms: list[str] = Field(default_factory=list, description="the query's words this message holds "
                                                                        "(French or English stems), rarest first")
    lexical_score: float | None = Field(default=None, description="BM25 score, when the keyword side found it")
    dense_similarity: float | None = Field(default=None, description="cosine similarity of the query and message "
                                                                     "embeddings, when the dense side found it")
    duplicates: int = Field(default=0, description="how many other messages among the candidates have the same "
                                                   "text (case, accents and punctuation folded); shown once")
    duplicate_ids: list[str] = Field(default_factory=list, description="their ids")


class SearchOut(BaseModel):
    query: str
    mode: str
    results: list[SearchHit]


class Health(BaseModel):
    status: str
    checks: dict[str, str] = Field(default_factory=dict)


class DriftCheckIn(Input):
    model_config = ConfigDict(extra="forbid")
    text: Annotated[str, StringConstraints(min_length=1, max_length=20_000)]
    channel: Annotated[str, StringConstraints(max_length=200)] | None = None
    language: Literal["fr", "en"] | None = Field(default=None, description="detected when omitted")
    scheduled_at: Timestamp | None = Field(default=None, description="when the post would go out; the quota is "
                                          "measured on the 30 days before it")
    save_rewrite: bool = Field(default=False, description="save the member-first rewrite as a draft for review "
                                                         "(needs the draft scope)")


class FeedQuota(BaseModel):
    brand_posts: int
    promotional_posts: int
    promo_share: float
    max_promotional_share: float | None = None


class DriftCheckOut(BaseModel):
    score: float
    verdict: Literal["ok", "watch", "drift"]
    promotional: bool
    language: str
    flags: list[Flag]
    rewrite: str | None = None
    engine: str
    degraded: bool
    degraded_reason: str | None = None
    feed: FeedQuota
    charter_version: int | None = None
    rewrite_draft_id: str | None = None


class WeeklyDrift(BaseModel):
    week_start: datetime
    brand_posts: int
    promotional_posts: int
    promo_share: float
    asks: int
    messages: int
    brand_share: float
    mean_drift_score: float


class DriftReportOut(BaseModel):
    window: dict[str, Any]
    brand_posts: int
    promotional_posts: int
    promo_share: float
    max_promotional_share: float | None = None
    over_quota: bool
    quota_judged: bool = Field(default=True, description="false when the window holds too few brand posts for a share")
    quota_note: str | None = None
    quota_passage_id: str | None = None
    asks_total: int
    asks_per_week: float
    member_contributions: int
    unacknowledged: int
    unacknowledged_share: float
    unacknowledged_examples: list[dict[str, Any]]
    messages: int
    brand_messages: int
    brand_share: float
    weekly: list[WeeklyDrift]
    worst_posts: list[dict[str, Any]]
    definitions: dict[str, str]


class RitualDraftIn(Input):
    model_config = ConfigDict(extra="forbid")
    ritual: Annotated[str, StringConstraints(min_length=1, max_length=200)] = Field(
        description="a ritual of the charter (by name) or a built-in kind: weekly_challenge, qa_session, "
                    "welcome_thread, showcase, spotlight_post, retrospective, discussion")
    channel: Annotated[str, StringConstraints(max_length=200)] | None = None
    theme: Annotated[str, StringConstraints(max_length=300)] | None = None
    language: Literal["fr", "en"] | None = None
    variants: int = Field(default=2, ge=1, le=3)
    scheduled_at: Timestamp | None = None


class DraftOut(BaseModel):
    model_config = ConfigDict(protected_namespaces=())
    id: str
    brand: str
    kind: str
    ritual: str | None = None
    status: str
    version: int
    title: str
    body: str
    variants: list[str] = Field(default_factory=list)
    language: str | None = None
    register: str | None = None
    suggested_channel: str | None = None
    suggested_time: str | None = None
    citations: list[str] = Field(default_factory=list)
    guards: dict[str, Any] = Field(default_factory=dict)
    engine: str = "rules"
    model: str | None = None
    degraded: bool = False
    degraded_reason: str | None = None
    prompt: dict[str, Any] = Field(default_factory=dict)
    usage: dict[str, Any] = Field(default_factory=dict)
    grounding: dict[str, Any] = Field(default_factory=dict)
    learned_from: dict[str, Any] = Field(default_factory=dict)
    slack: dict[str, Any] | None = None
    published_permalink: str | None = None
    created_by: str
    created_at: datetime


class UsageDay(BaseModel):
    day: str
    calls: int
    failures: int
    prompt_tokens: int
    completion_tokens: int
    cost: float


class UsageOut(BaseModel):
    brand: str
    days: list[UsageDay]
    totals: UsageDay


class SpotlightRecordIn(Input):
    model_config = ConfigDict(extra="forbid")
    member_id: int = Field(ge=1, le=2**31 - 1)  # members.id is a 32-bit integer on PostgreSQL
    featured_at: Timestamp | None = Field(default=None, description="defaults to now; not in the future")
    channel: Annotated[str, StringConstraints(max_length=200)] | None = None
    note: Annotated[str, StringConstraints(max_length=2000)] | None = None


class SpotlightRecordOut(BaseModel):
    id: int
    member_id: int
    featured_at: datetime
    channel: str | None = None
    note: str | None = None
    created_by: str


class ShoutoutDraftIn(Input):
    model_config = ConfigDict(extra="forbid")
    member_id: int = Field(ge=1, le=2**31 - 1)  # members.id is a 32-bit integer on PostgreSQL
    window_days: int = Field(default=30, ge=1, le=365)


class SpotlightOut(BaseModel):
    window: dict[str, Any]
    channel: str | None = None
    cooldown_days: int
    suggestions: list[dict[str, Any]]
    excluded: dict[str, int]
    model: str


class VitalityOut(BaseModel):
    window: dict[str, Any]
    kpis: dict[str, Any]
    weekly: list[dict[str, Any]]
    alerts: list[dict[str, Any]]
    definitions: dict[str, str]
    excluded: dict[str, int]


class DraftPage(BaseModel):
    items: list[DraftOut]
    total: int
    limit: int
    offset: int


class DraftPatch(Input):
    model_config = ConfigDict(extra="forbid")
    title: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = None
    body: Annotated[str, StringConstraints(min_length=1, max_length=10_000)] | None = None
    variants: list[Annotated[str, StringConstraints(max_length=10_000)]] | None = Field(default=None, max_length=5)
    note: Annotated[str, StringConstraints(max_length=2000)] | None = None


class DecisionIn(Input):
    model_config = ConfigDict(extra="forbid")
    action: Literal["submit", "approve", "request_changes", "reject", "publish"]
    comment: Annotated[str, StringConstraints(max_length=4000)] | None = None
    permalink: WebUrl | None = Field(default=None, description="where it was posted (publish only; http or https)")
    override_guards: bool = Field(default=False, description="approve although the draft's guards fail; needs a "
                                                             "comment saying why, recorded in the history")


class DraftHistory(BaseModel):
    draft_id: str
    revisions: list[dict[str, Any]]
    decisions: list[dict[str, Any]]


class ErasureOut(BaseModel):
    member_id: int
    messages: int
    drafts_redacted: int


class MemberExport(BaseModel):
    member: dict[str, Any]
    messages: list[dict[str, Any]]
    spotlight_records: list[dict[str, Any]]
