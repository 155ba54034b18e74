"""Typed LLM outputs and the checks run against what was retrieved (a failed check costs one retry)."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from copilot.textrules import LINK, TU, VOUS, letter_words, terms_used

MEMBER_TOKEN = re.compile(r"\bM\d+\b")


class RitualDraftOut(BaseModel):
    """What the model must return for a ritual draft."""

    model_config = ConfigDict(extra="forbid")
    title: str = Field(min_length=1, max_length=200)
    body: str = Field(min_length=1, max_length=4000)
    variants: list[str] = Field(default_factory=list, max_length=5)
    citations: list[str] = Field(default_factory=list, max_length=40)


class ShoutoutOut(BaseModel):
    """What the model must return for a spotlight shout-out."""

    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1, max_length=1500)


class JudgeFlag(BaseModel):
    """A problem the model points at: the exact words of the post it is about."""

    model_config = ConfigDict(extra="forbid")
    excerpt: str = Field(min_length=1, max_length=500, description="copied exactly from the post")
    explanation: str = Field(min_length=1, max_length=500)


class DriftJudgeOut(BaseModel):
    """What the model must return when judging drift."""

    model_config = ConfigDict(extra="forbid")
    verdict: Literal["ok", "watch", "drift"]
    score: float = Field(ge=0, le=1, description="0 = no drift at all, 1 = certain drift; must match the verdict")
    reasons: list[str] = Field(default_factory=list, max_length=10)
    flags: list[JudgeFlag] = Field(default_factory=list, max_length=10)


def grounding_problems(texts: list[str], *, citations: list[str], allowed_ids: set[str], known_members: set[str],
                       source_links: set[str], banned_terms: list[str], system_prompt: str = "") -> list[str]:
    """Why an output is not grounded in its context (empty when it is)."""
    problems = [f"cites unknown id '{c}'" for c in citations if c not in allowed_ids]
    joined = "\n".join(texts)
    leaked = [line for line in system_prompt.splitlines() if len(line.strip()) >= 40 and line.strip() in joined]
    if leaked:
        problems.append("repeats the system prompt")
    problems += [f"names unknown member '{m}'" for m in sorted(set(MEMBER_TOKEN.findall(joined)) - known_members)]
    problems += [f"adds a link absent from the sources: {u}" for u in sorted(set(LINK.findall(joined)) - source_links)]
    problems += [f"uses the banned term '{t}'" for t in terms_used(joined, banned_terms)]
    return problems




def substance_problems(field: str, text: str, *, min_words: int) -> list[str]:
    """Why a text is not a real text: too few words, mostly digits or symbols (empty when it is one)."""
    words = letter_words(text)
    if len(words) < min_words:
        return [f"{field} has {len(words)} word(s); write at least {min_words}"]
    if sum(len(w) for w in words) < 0.5 * len(text.strip()):
        return [f"{field} is mostly digits or symbols"]
    return []


def register_problems(text: str, register: str | None) -> list[str]:
    """French register: a `vous` charter never says tu; a `tu` charter addresses the reader as tu (a group may
    still be `vous`, so only a text with `vous` and no tu form at all is refused)."""
    if register == "vous" and TU.search(text):
        return [f"uses tutoiement ('{TU.search(text).group(0)}') under a vous charter"]  # type: ignore[union-attr]
    if register == "tu" and VOUS.search(text) and not TU.search(text):
        return ["addresses the reader as vous under a tu charter"]
    return []
