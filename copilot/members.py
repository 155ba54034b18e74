"""A member's own data: the profile editors see, what a data subject access request returns, and what erasing
the member removed. The API's bodies are these models, built here from the store's rows."""

from __future__ import annotations

from datetime import datetime

from pydantic import ConfigDict, Field

from copilot.report import Report
from copilot.store import Store
from copilot.types import Consent, Role


class MemberOut(Report):
    """A community member, with the role and consent editors set."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    source: str
    source_id: str
    name: str
    role: Role
    consent_spotlight: Consent
    consent_analytics: Consent
    joined_at: datetime | None = None


class ExportedMessage(Report):
    """A message written by the member, as stored."""

    id: str = Field(description="the message's id in its source")
    source: str
    channel: str | None = None
    created_at: datetime
    kind: str
    title: str | None = None
    text: str
    reply_to: str | None = None
    reactions: dict[str, int] = Field(default_factory=dict, description="emoji -> count")
    permalink: str | None = None


class ExportedSpotlight(Report):
    """A time the member was featured."""

    model_config = ConfigDict(from_attributes=True)
    featured_at: datetime
    channel: str | None = None
    note: str | None = None


class MemberExport(Report):
    """Everything stored about a member (data subject access)."""

    member: MemberOut
    messages: list[ExportedMessage]
    spotlight_records: list[ExportedSpotlight]


class ErasureOut(Report):
    """What erasing a member removed."""

    member_id: int
    messages: int = Field(description="messages deleted (store, vectors and keyword index)")
    drafts_redacted: int = Field(description="drafts whose text or history named the member, now redacted")


def export_member(store: Store, brand: str, member_id: int) -> MemberExport:
    """Everything stored about one member of the brand (NotFound for another brand's member)."""
    member, messages, records = store.member_data(brand, member_id)
    return MemberExport(
        member=MemberOut.model_validate(member),
        messages=[ExportedMessage(id=m.source_id, source=m.source, channel=m.channel, created_at=m.created_at,
                                  kind=m.kind, title=m.title, text=m.text, reply_to=m.reply_to,
                                  reactions=m.reactions or {}, permalink=m.permalink) for m in messages],
        spotlight_records=[ExportedSpotlight.model_validate(r) for r in records])
