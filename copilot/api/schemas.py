"""Request and response bodies of the HTTP API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from copilot.members import ErasureOut, ExportedMessage, ExportedSpotlight, MemberExport, MemberOut
from copilot.reports import (DraftGuards, DraftHistory, DriftCheck, Engine, FeedReport, Grounding, LearnedFrom,
                             LLMUsage, PromptRef, SlackPost, SpotlightReport, VitalityReport)
from copilot.types import Charter, Input, Consent, MemberCounts, MemberRecord, MessageCounts, MessageRecord, Role, Scope, Slug, Timestamp, WebUrl
from copilot.usage import UsageDay, UsageOut

MAX_BATCH = 1000
DraftStatus = Literal["drafted", "in_review", "approved", "changes_requested", "rejected", "published"]
DraftKind = Literal["ritual", "shoutout", "rewrite"]
ImportFormat = Literal["auto", "jsonl", "slack", "discord", "stackexchange", "markdown"]
# The response bodies that services build themselves (typed all the way from the feature to the route).
__all__ = ["DraftHistory", "DriftCheck", "ErasureOut", "ExportedMessage", "ExportedSpotlight", "FeedReport",
           "MemberExport", "MemberOut", "SpotlightReport", "UsageDay", "UsageOut", "VitalityReport"]


class ProblemError(BaseModel):
    """One invalid field of a request."""

    field: str = Field(description="where: `body.messages.5.created_at`, `query.q`, `If-Match`…")
    message: str


class Problem(BaseModel):
    """RFC 9457 problem document: every error the API answers has this shape and a stable `type`."""

    type: str = Field(description="a stable URI per kind of error (`…/problems/not-found`, `…/guards-failed`…)")
    title: str
    status: int
    detail: str = Field(description="what went wrong and how to fix it, for a person")
    instance: str | None = Field(default=None, description="the request path")
    field: str | None = Field(default=None, description="the offending field, header or parameter")
    errors: list[ProblemError] | None = Field(default=None, description="every invalid field (422)")
    current_version: int | None = Field(default=None, description="412: the draft's current version")
    draft_status: DraftStatus | None = Field(default=None, description="409: the draft's status now")
    failed_guards: list[str] | None = Field(default=None, description="409 guards-failed: the guards the draft fails")


class Root(BaseModel):
    """Where to start: the interactive docs and the contract."""

    name: str
    version: str
    docs: str = Field(description="interactive API documentation (Swagger UI)")
    openapi: str = Field(description="the OpenAPI contract as JSON (openapi.yaml in the repository)")
    desk: str = Field(description="the editors' desk (HTML pages)")
    health: str


class BrandIn(Input):
    """A new brand: its id (a slug used in every path), display name and default language."""

    model_config = ConfigDict(extra="forbid")
    id: Slug = Field(description="lower-case slug, 3-40 characters")
    name: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    language: Literal["fr", "en"] = "fr"


class BrandOut(BaseModel):
    """A brand: every other resource lives under it."""

    id: str
    name: str
    language: Literal["fr", "en"]
    created_at: datetime


class KeyIn(Input):
    """A key to create for the brand."""

    model_config = ConfigDict(extra="forbid")
    actor: Annotated[str, StringConstraints(min_length=1, max_length=200)] = Field(
        description="who uses the key; recorded in review history")
    scopes: list[Scope] = Field(min_length=1, max_length=4)


class KeyOut(BaseModel):
    """An API key bound to one brand (never its secret)."""

    id: str
    actor: str
    scopes: list[Scope]
    created_at: datetime
    revoked_at: datetime | None = None


class KeyCreated(KeyOut):
    """A new key, with its secret (shown once, stored hashed)."""

    key: str = Field(description="the secret, shown once")


class CharterIn(Input):
    """A charter as the brand wrote it: Markdown (optionally with YAML front matter), YAML or JSON."""

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
    """One stored version of the brand's charter."""

    version: int
    source_format: Literal["markdown", "yaml", "json"]
    created_at: datetime
    digest: str


class CharterOut(CharterVersionOut):
    """A charter version and what the parser understood of it."""

    created: bool = Field(default=False, description="false when the same content was already the latest version")
    charter: Charter


class MemberPage(BaseModel):
    """A page of members."""

    items: list[MemberOut]
    total: int
    limit: int
    offset: int


class MemberPatch(Input):
    """What to change on a member: role and/or consent."""

    model_config = ConfigDict(extra="forbid")
    role: Role | None = None
    consent_spotlight: Consent | None = None
    consent_analytics: Consent | None = None


class HistoryBatch(Input):
    """Members and messages to upsert, keyed by (source, source_id); validated whole."""

    model_config = ConfigDict(extra="forbid")
    members: list[MemberRecord] = Field(default_factory=list, max_length=MAX_BATCH)
    messages: list[MessageRecord] = Field(default_factory=list, max_length=MAX_BATCH)


class RecordError(BaseModel):
    """A record that could not be read, skipped while its neighbours were imported."""

    location: str = Field(description="file, line and column, or the record's position")
    message: str


class IngestOut(BaseModel):
    """What a batch or an import wrote."""

    members: MemberCounts
    messages: MessageCounts
    embedded: int = Field(description="messages whose vectors were (re)computed")
    errors: list[RecordError] = Field(description="the first errors (error_count has them all)")
    error_count: int


class DraftJobCounts(BaseModel):
    """What an asynchronous draft job wrote."""

    drafts: int


class JobOut(BaseModel):
    """A background job (an import, or a draft asked with `Prefer: respond-async`): status, progress and, once
    done, what it wrote."""

    id: str
    brand: str
    kind: Literal["import", "ritual_draft"]
    format: ImportFormat | Literal["json"] = Field(description="the import's format; `json` for a draft job")
    status: Literal["queued", "running", "succeeded", "failed"]
    file_name: str | None = None
    total: int | None = Field(default=None, description="records to read, once known")
    processed: int
    counts: IngestOut | DraftJobCounts | None = Field(default=None, description="null until the job has written "
                                                                           "something")
    errors: list[RecordError]
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
    context_id: str | None = Field(default=None, description="hybrid: the message in the same thread (the one this "
                                   "hit replies to, or a reply to it) whose score this hit inherited a share of")


class SearchOut(BaseModel):
    """Search results, best first."""

    query: str
    mode: Literal["hybrid", "lexical", "dense"]
    results: list[SearchHit]


class HealthChecks(BaseModel):
    """What readiness checked (liveness checks nothing: empty)."""

    store: str | None = None
    vector_index: str | None = None
    llm: str | None = None
    analytics_snapshots: str | None = None


class Health(BaseModel):
    """Liveness or readiness."""

    status: Literal["ok", "ready"]
    checks: HealthChecks = Field(default_factory=HealthChecks)


class DriftCheckIn(Input):
    """A text to check for promotional drift against the charter and the brand's feed."""

    model_config = ConfigDict(extra="forbid")
    text: Annotated[str, StringConstraints(min_length=1, max_length=20_000)]
    channel: Annotated[str, StringConstraints(max_length=200)] | None = None
    language: Literal["fr", "en"] | None = Field(default=None, description="detected when omitted")
    scheduled_at: Timestamp | None = Field(default=None, description="when the post would go out; the quota is "
                                          "measured on the 30 days before it")
    save_rewrite: bool = Field(default=False, description="save the member-first rewrite as a draft for review "
                                                         "(needs the draft scope)")










class RitualDraftIn(Input):
    """What to draft: a ritual of the charter (by name) or a built-in kind."""

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
    """A draft for editors to review; its `ETag` header is the version to send back in `If-Match`."""

    model_config = ConfigDict(protected_namespaces=())
    id: str
    brand: str
    kind: DraftKind
    ritual: str | None = None
    status: DraftStatus
    version: int
    title: str
    body: str
    variants: list[str] = Field(default_factory=list)
    language: str | None = None
    register: Literal["tu", "vous"] | None = None
    suggested_channel: str | None = None
    suggested_time: str | None = None
    citations: list[str] = Field(default_factory=list, description="charter passage and message ids used")
    guards: DraftGuards = Field(default_factory=DraftGuards)
    engine: Engine = "rules"
    model: str | None = None
    degraded: bool = False
    degraded_reason: str | None = None
    prompt: PromptRef | None = None
    usage: LLMUsage | None = None
    grounding: Grounding | None = None
    learned_from: LearnedFrom | None = None
    slack: SlackPost | None = None
    published_permalink: str | None = None
    created_by: str
    created_at: datetime


class SpotlightRecordIn(Input):
    """A spotlight that happened."""

    model_config = ConfigDict(extra="forbid")
    member_id: int = Field(ge=1, le=2**31 - 1)  # members.id is a 32-bit integer on PostgreSQL
    featured_at: Timestamp | None = Field(default=None, description="defaults to now; not in the future")
    channel: Annotated[str, StringConstraints(max_length=200)] | None = None
    note: Annotated[str, StringConstraints(max_length=2000)] | None = None


class SpotlightRecordOut(BaseModel):
    """A recorded spotlight: the member is skipped by suggestions during the cooldown."""

    id: int
    member_id: int
    featured_at: datetime
    channel: str | None = None
    note: str | None = None
    created_by: str


class ShoutoutDraftIn(Input):
    """A member to thank in a shout-out draft."""

    model_config = ConfigDict(extra="forbid")
    member_id: int = Field(ge=1, le=2**31 - 1)  # members.id is a 32-bit integer on PostgreSQL
    window_days: int = Field(default=30, ge=1, le=365)






class DraftPage(BaseModel):
    """A page of drafts, newest first."""

    items: list[DraftOut]
    total: int
    limit: int
    offset: int


class DraftPatch(Input):
    """An edit of a draft: the fields given replace the current ones in a new revision."""

    model_config = ConfigDict(extra="forbid")
    title: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = None
    body: Annotated[str, StringConstraints(min_length=1, max_length=10_000)] | None = None
    variants: list[Annotated[str, StringConstraints(max_length=10_000)]] | None = Field(default=None, max_length=5)
    note: Annotated[str, StringConstraints(max_length=2000)] | None = None


class DecisionIn(Input):
    """A review decision on a draft."""

    model_config = ConfigDict(extra="forbid")
    action: Literal["submit", "approve", "request_changes", "reject", "publish"]
    comment: Annotated[str, StringConstraints(max_length=4000)] | None = None
    permalink: WebUrl | None = Field(default=None, description="where it was posted (publish only; http or https)")
    override_guards: bool = Field(default=False, description="approve although the draft's guards fail; needs a "
                                                             "comment saying why, recorded in the history")
