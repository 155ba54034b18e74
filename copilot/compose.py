"""Grounding for drafts: what members talk about now, and how earlier editions of a ritual did.

Everything that may reach an LLM leaves here pseudonymised, redacted and fenced, within a token budget.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from copilot.features.snapshot import Snapshots
from copilot.outputs import LINK
from copilot.privacy import Pseudonyms, fence
from copilot.retrieve import Retriever
from copilot.store import Store
from copilot.text import STOPWORDS, words
from copilot.untrusted import instructions_in

RECENT_DAYS = 28
CHARS_PER_TOKEN = 4
EXTRA_STOP = frozenset("merci bonjour salut hello thanks semaine week aussi faire faut peut très bien comme quand "
                       "encore vraiment quelqu question réponse toujours depuis avant après bravo super génial "
                       "everyone anyone something really".split())


@dataclass
class ContextMessage:
    """A message used as grounding."""

    id: str
    author: str
    text: str
    kind: str
    attributable: bool = True  # False when the member opted out of being named (spotlight consent)


@dataclass
class Grounding:
    """What a draft can rely on."""

    messages: list[ContextMessage] = field(default_factory=list)
    topics: list[str] = field(default_factory=list)
    questions: list[ContextMessage] = field(default_factory=list)
    past: list[dict[str, Any]] = field(default_factory=list)
    links: set[str] = field(default_factory=set)


def topics_of(texts: list[str], n: int = 3) -> list[str]:
    """The most frequent content words of recent member messages (a cheap topic signal)."""
    counts: Counter[str] = Counter()
    for text in texts:
        counts.update({w for w in words(text) if len(w) >= 5 and w not in STOPWORDS and w not in EXTRA_STOP
                       and not w.isdigit()})
    return [w for w, _ in counts.most_common(n)]


class Composer:
    """Builds the grounding of a ritual draft for a brand."""

    def __init__(self, store: Store, retriever: Retriever, snapshots: Snapshots):
        self.store, self.retriever, self.snapshots = store, retriever, snapshots

    def ground(self, brand: str, *, query: str, ritual_name: str, now: datetime, limit: int = 10) -> Grounding:
        """Recent relevant messages, current topics, member questions and earlier editions of the ritual."""
        roles = self.store.member_roles(brand)
        brand_accounts = roles["staff"] | roles["bot"]
        since = now - timedelta(days=RECENT_DAYS)
        recent = self.store.recent_messages(brand, since, limit=300, exclude_authors=brand_accounts | roles["no_analytics"])
        # Topics come from what members ask and answer, not from short reactions in comment threads, nor from
        # messages that carry instructions aimed at a model.
        g = Grounding(topics=topics_of([r[6] for r in recent if r[5] in ("question", "answer")
                                        and not instructions_in(r[6])]))
        # Relevance first, then recency: an unfiltered search stays on the fast path of both indexes, and the
        # recent hits are preferred over older ones when there are enough of them.
        hits = self.retriever.search(brand, query, limit=limit * 4)
        staff_ids = {sid for _, sid in brand_accounts}
        rows = self.store.get_messages(brand, [h.uid for h in hits])
        ordered = sorted(hits, key=lambda h: h.created_at < since)
        seen_texts: set[str] = set()
        for h in ordered:
            row = rows.get(h.uid)
            if row is None or row.kind in ("charter", "doc") or (row.author in staff_ids):
                continue
            flat = " ".join(row.text.lower().split())
            if flat in seen_texts:  # the same sentence twice adds nothing to the grounding
                continue
            seen_texts.add(flat)
            g.messages.append(ContextMessage(id=row.source_id, author=row.author_name or row.author or "", text=row.text,
                                             kind=row.kind))
            if len(g.messages) >= limit:
                break
        asked = [r for r in recent if r[5] == "question"][:5]
        names = self.store.member_names(brand, [(r[0], r[2]) for r in asked if not r[3]])
        g.questions = [ContextMessage(id=r[1], author=r[3] or names.get((r[0], r[2])) or r[2] or "", text=r[6],
                                      kind=r[5], attributable=(r[0], r[2]) not in roles["no_spotlight"])
                       for r in asked]
        g.past = self._past_editions(brand, ritual_name, brand_accounts, now)
        g.links = {u for m in g.messages for u in LINK.findall(m.text)}
        return g

    def _past_editions(self, brand: str, ritual_name: str, accounts: set[tuple[str, str]], now: datetime) -> list[dict[str, Any]]:
        posts = self.store.find_posts(brand, accounts, ritual_name, now - timedelta(days=120), limit=12)
        if not posts:
            return []
        snap = self.snapshots.get(brand)
        brand_rows = snap.author_mask(accounts) | (snap.author < 0)
        out = []
        for source, sid, channel, created, text in posts:
            row = snap.row_of(source, sid)
            if row is None:
                continue
            in_thread = np.flatnonzero((snap.thread == snap.thread[row]) & (snap.parent >= 0))
            m2m = sum(1 for r in in_thread if not brand_rows[r] and not brand_rows[snap.parent[r]])
            out.append({"id": sid, "channel": channel, "created_at": created, "text": text, "replies": len(in_thread),
                        "member_to_member": m2m})
        return sorted(out, key=lambda p: (-p["member_to_member"], -p["replies"]))


def context_block(g: Grounding, pseudonyms: Pseudonyms, *, budget_tokens: int) -> tuple[str, list[str]]:
    """Fenced, pseudonymised lines of context within the budget; returns the block and the ids included."""
    lines, used, ids = [], 0, []
    for m in g.messages:
        line = f"[{m.id}] {pseudonyms.alias(m.author)} ({m.kind}): {pseudonyms.scrub(_one_line(m.text))[:400]}"
        cost = len(line) // CHARS_PER_TOKEN + 1
        if used + cost > budget_tokens:
            break
        lines.append(line)
        used += cost
        ids.append(m.id)
    return fence("\n".join(lines) or "(no recent messages)"), ids


def past_block(g: Grounding, pseudonyms: Pseudonyms) -> str:
    """Earlier editions with the member-to-member replies they drew (best first)."""
    if not g.past:
        return "(no earlier edition found)"
    rows = [f"[{p['id']}] {p['member_to_member']} member-to-member replies, {p['replies']} replies: "
            f"{pseudonyms.scrub(_one_line(p['text']))[:300]}" for p in g.past[:3]]
    return fence("\n".join(rows))


def _one_line(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()
