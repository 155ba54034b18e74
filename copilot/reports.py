"""Typed results of the services: what spotlight, vitality, the drift check and audit, the review history and a
draft's payload return. The API's response bodies are these models (or extend them), so the contract names every
nested object and a generated client reads attributes, not dictionaries.

Every model also reads like the mapping it replaced (see `copilot.report.Report`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from copilot.features.drift import Flag
from copilot.report import Report
from copilot.types import Consent

Severity = Literal["low", "medium", "high"]
Verdict = Literal["ok", "watch", "drift"]
Engine = Literal["rules", "llm", "rules+llm"]


class Window(Report):
    """The period a report covers."""

    since: datetime
    until: datetime
    days: int = Field(description="length of the window in days")
    as_of: datetime | None = Field(default=None, description="when the analytics snapshot the report was computed "
                                                             "from was current")


# ---------------------------------------------------------------- LLM bookkeeping shared by drafts and shout-outs
class PromptRef(Report):
    """Which prompt (or template table) wrote a text, and the hash of what was sent."""

    name: str
    version: str
    hash: str | None = Field(default=None, description="sha256 of the rendered prompt; null for templates")
    approx_tokens: int | None = None
    budget_tokens: int | None = None


class LLMUsage(Report):
    """Tokens and cost of the model calls behind one answer (zero for the rules engines)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = Field(default=0.0, description="USD, from litellm's local price table")
    calls: int | None = None
    failures: int | None = None


# ---------------------------------------------------------------- spotlight
class SpotlightMember(Report):
    """Who is suggested."""

    id: int | None = Field(default=None, description="the member's id (null when only their messages are known)")
    source: str
    source_id: str
    name: str


class Shoutout(Report):
    """A suggested thank-you message for the member."""

    text: str
    engine: Engine
    language: str | None = None
    degraded: bool = False
    degraded_reason: str | None = None
    model: str | None = None
    prompt: PromptRef | None = None
    usage: LLMUsage | None = None


class ScoreBreakdown(Report):
    """What the member did in the window (Orbit-inspired love and reach)."""

    help_given: float = Field(description="replies to other people's questions (answers 1, comments 0.5)")
    first_answers: int = 0
    solutions: int = 0
    well_received: int = Field(default=0, description="replies to questions that got a reaction")
    thanks_received: int = 0
    content_created: int = Field(default=0, description="questions and posts someone engaged with")
    reactions_received: int = 0
    reach: int = Field(default=0, description="distinct people they exchanged with")
    active_weeks: int = 0
    rising: bool = False
    newcomer: bool = False
    love: float = 0.0


class EvidenceMessage(Report):
    """A message that shows the member's contribution."""

    id: str
    source: str
    kind: str
    created_at: datetime
    permalink: str | None = None
    snippet: str
    is_solution: bool = False


class ConsentStatus(Report):
    """The member's consent, and what to do before featuring them."""

    spotlight: Consent
    analytics: Consent
    note: str | None = None


class Suggestion(Report):
    """One member to spotlight."""

    member: SpotlightMember
    shoutout: Shoutout
    score: float = Field(description="normalised to the best suggestion (1.0)")
    breakdown: ScoreBreakdown
    why: str
    evidence: list[EvidenceMessage]
    consent: ConsentStatus


class SpotlightExclusions(Report):
    """Members never suggested, by reason."""

    staff: int = 0
    bot: int = 0
    opted_out: int = 0
    cooldown: int = 0


class SpotlightReport(Report):
    """Ranked spotlight suggestions for a window."""

    window: Window
    channel: str | None = None
    cooldown_days: int
    suggestions: list[Suggestion]
    excluded: SpotlightExclusions
    model: str = Field(description="how the score is computed")


# ---------------------------------------------------------------- vitality
class Participation(Report):
    """Who takes part: active members among known ones, and how concentrated their messages are."""

    active_members: int
    known_members: int
    active_share: float
    concentration_top10pct: float


class Contribution(Report):
    """What members create: questions and posts, and their share of answers."""

    member_posts: int
    answers_by_members_share: float
    member_messages: int


class Advocacy(Report):
    """Spontaneous recommendations of the brand, and thanks between members."""

    advocacy: int
    thanks: int


class Horizontality(Report):
    """Member-to-member exchange against the brand's share of the conversation."""

    member_to_member_reply_share: float
    first_answered_by_member_share: float
    brand_share: float


class Responsiveness(Report):
    """How fast members' questions get a first reply (CHAOSS time to first response)."""

    member_questions: int
    median_first_response_hours: float | None = None
    unanswered_48h_share: float


class Tension(Report):
    """Messages with conflict or strongly negative words."""

    tension: int
    tension_share: float


class Cohort(Report):
    """New members whose first message fell in one week, and the share still active k weeks later."""

    week_start: datetime
    size: int
    week_1: float | None = None
    week_4: float | None = None
    week_8: float | None = None


class Retention(Report):
    """Retention of weekly cohorts of new members (null where the window is too short to tell)."""

    cohorts: list[Cohort]
    week_1: float | None = None
    week_4: float | None = None
    week_8: float | None = None


class VitalityKpis(Report):
    """Every KPI for the window; definitions are in the report's `definitions`."""

    participation: Participation
    contribution: Contribution
    advocacy: Advocacy
    horizontality: Horizontality
    responsiveness: Responsiveness
    tension: Tension
    messages: int
    retention: Retention


class WeeklyVitality(Report):
    """One week of the KPIs, flattened."""

    week_start: datetime
    messages: int
    active_members: int
    active_share: float
    concentration_top10pct: float
    member_posts: int
    answers_by_members_share: float
    member_messages: int
    advocacy: int
    thanks: int
    member_to_member_reply_share: float
    first_answered_by_member_share: float
    brand_share: float
    member_questions: int
    median_first_response_hours: float | None = None
    unanswered_48h_share: float
    tension: int
    tension_share: float


class ChannelChange(Report):
    """How a channel's share of messages moved."""

    channel: str
    share_change: float


class AlertEvidence(Report):
    """The numbers behind an alert; which fields are set depends on the alert's type."""

    last_week_active: int | None = Field(default=None, description="engagement_drop")
    baseline_active: float | None = Field(default=None, description="engagement_drop")
    last_week_messages: int | None = Field(default=None, description="engagement_drop")
    baseline_messages: float | None = Field(default=None, description="engagement_drop")
    message_ids: list[str] | None = Field(default=None, description="tension: the latest tense messages")
    share: float | None = Field(default=None, description="tension")
    baseline_share: float | None = Field(default=None, description="tension")
    distance: float | None = Field(default=None, description="interests_shift: total-variation distance")
    changes: list[ChannelChange] | None = Field(default=None, description="interests_shift")


class Alert(Report):
    """A weak signal."""

    type: Literal["engagement_drop", "tension", "interests_shift"]
    severity: Severity
    message: str
    evidence: AlertEvidence


class VitalityExclusions(Report):
    """Members left out of the KPIs, by reason."""

    staff_and_bots: int
    opted_out: int


class VitalityReport(Report):
    """Community vitality for a window: KPIs, a weekly series and weak-signal alerts."""

    window: Window
    kpis: VitalityKpis
    weekly: list[WeeklyVitality]
    alerts: list[Alert]
    definitions: dict[str, str] = Field(description="KPI name -> its definition")
    excluded: VitalityExclusions


# ---------------------------------------------------------------- drift
class FeedQuota(Report):
    """The brand's promotional share over the 30 days before the checked post."""

    brand_posts: int
    promotional_posts: int
    promo_share: float
    max_promotional_share: float | None = None


class DriftCheck(Report):
    """The verdict on one text."""

    score: float = Field(description="1 - product of (1 - flag weight); ok < 0.4 <= watch < 0.6 <= drift")
    verdict: Verdict
    promotional: bool
    language: str
    flags: list[Flag]
    rewrite: str | None = Field(default=None, description="a member-first rewrite when the text drifts")
    engine: Engine
    degraded: bool
    degraded_reason: str | None = None
    feed: FeedQuota
    charter_version: int | None = None
    rewrite_draft_id: str | None = Field(default=None, description="the draft saved from the rewrite (save_rewrite)")


class WeeklyDrift(Report):
    """One week of the brand's feed."""

    week_start: datetime
    brand_posts: int
    promotional_posts: int
    promo_share: float
    asks: int
    messages: int
    brand_share: float
    mean_drift_score: float


class UnacknowledgedPost(Report):
    """A member's question or post left without a reply or reaction."""

    id: str
    source: str
    author: str | None = None
    channel: str | None = None
    created_at: datetime


class WorstPost(Report):
    """One of the brand's posts that drifts most."""

    id: str
    source: str
    created_at: datetime
    permalink: str | None = None
    excerpt: str
    score: float
    verdict: Verdict
    flags: list[Flag]


class FeedReport(Report):
    """The drift audit of the brand's own feed over a window."""

    window: Window
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
    unacknowledged_examples: list[UnacknowledgedPost]
    messages: int
    brand_messages: int
    brand_share: float
    weekly: list[WeeklyDrift]
    worst_posts: list[WorstPost]
    definitions: dict[str, str] = Field(description="metric name -> its definition")


# ---------------------------------------------------------------- drafts
class DriftGuard(Report):
    """The drift check of the draft's own text."""

    score: float
    verdict: Verdict
    flags: list[str] = Field(description="the flag types found")


class LengthGuard(Report):
    """The draft's length against the maximum."""

    chars: int
    max: int
    ok: bool


class CountGuard(Report):
    """A count against the charter's limit (null: no limit)."""

    count: int
    limit: int | None = None
    ok: bool


class DraftGuards(Report):
    """Checks on a draft's own text, recomputed on every revision; approving needs `ok` (or an override)."""

    banned_terms: list[str] = Field(default_factory=list)
    drift: DriftGuard | None = None
    length: LengthGuard | None = None
    emoji: CountGuard | None = None
    exclamation: CountGuard | None = None
    unknown_member_tokens: list[str] = Field(default_factory=list, description="placeholders (M1…) left unmapped")
    instructions: list[str] = Field(default_factory=list, description="quoted instructions found in the text")
    contact_data: bool = False
    ok: bool = True


class PastEdition(Report):
    """An earlier edition of the ritual and the replies it drew."""

    id: str
    replies: int
    member_to_member: int


class Grounding(Report):
    """What a ritual draft was grounded in."""

    topics: list[str] = Field(default_factory=list)
    past_editions: list[PastEdition] = Field(default_factory=list)


class AvoidedDraft(Report):
    """A rejected draft of the same ritual, and why it was rejected."""

    id: str
    reason: str | None = None


class LearnedFrom(Report):
    """Editors' earlier decisions on this ritual that shaped the draft."""

    examples: list[str] = Field(default_factory=list, description="ids of approved drafts used as models")
    avoided: list[AvoidedDraft] = Field(default_factory=list, description="rejected drafts, with the reason")


class SlackPost(Report):
    """Where the draft was posted for review in Slack."""

    channel: str | None = None
    ts: str | None = None


class Revision(Report):
    """One version of a draft's text."""

    version: int
    title: str
    body: str
    variants: list[str] = Field(default_factory=list)
    actor: str
    note: str | None = None
    created_at: datetime


class Decision(Report):
    """One review decision: who moved the draft from which status to which."""

    action: str = Field(description="submit, approve, request_changes, reject, publish, withdraw or override_guards")
    from_status: str
    to_status: str
    version: int
    actor: str
    comment: str | None = None
    created_at: datetime


class DraftHistory(Report):
    """Every revision and decision of a draft, oldest first."""

    draft_id: str
    revisions: list[Revision]
    decisions: list[Decision]
