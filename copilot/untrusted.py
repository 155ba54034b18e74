"""Member text is untrusted: what a draft may quote of it, and what in a draft looks like injected instructions.

The template engine quotes members without any model in between, so a quote gets the same treatment as the
text sent to an LLM (contact data redacted) and more, because it lands in a post and in Slack: chat mentions,
broadcast tokens (`<!channel>`, `@here`), links and markup are removed, instruction-like sentences are never
quoted, and the quote is short. Every pattern here is linear in the text's length (no nested or adjacent
unbounded repeats over the same characters).
"""

from __future__ import annotations

import re

from copilot.privacy import redact
from copilot.textrules import BROADCAST, HANDLE, without_links

# Instructions aimed at a model, in French and English, and attempts to close the untrusted-data fence.
INSTRUCTION = re.compile(
    r"\b(?:ignore[sz]?|disregard|forget|oublie[sz]?|ignorer?)\b[^.\n]{0,40}?"
    r"\b(?:instructions?|prompts?|rules|r[èe]gles|consignes)\b"
    r"|\b(?:you are now|tu es maintenant|vous [êe]tes maintenant|new instructions|nouvelles instructions)\b"
    r"|(?:^|[\s>])(?:system|assistant|syst[èe]me)\s?:"
    r"|</?\s?(?:community_data|system|instructions?)\b", re.I | re.M)


def instructions_in(text: str) -> list[str]:
    """Instruction-like passages in a text (what a prompt injection looks like), as found."""
    return [m.group(0).strip() for m in INSTRUCTION.finditer(text)]


def has_contact_data(text: str) -> bool:
    """Whether a text holds an e-mail address or a phone number."""
    return redact(text) != text


def quote_member(text: str, *, limit: int = 120) -> str | None:
    """A short, inert quote of a member's message, or None when nothing quotable is left (or it carries
    instructions): markup, mentions, broadcasts and links removed, contact data redacted, one line."""
    if instructions_in(text):
        return None
    clean = without_links(text)
    clean = BROADCAST.sub(" ", clean)
    clean = HANDLE.sub(" ", clean)
    clean = redact(clean).replace("<", " ").replace(">", " ")
    clean = " ".join(clean.split()).strip(" ,;:-")
    if len(clean) < 8:
        return None
    if len(clean) > limit:
        clean = clean[:limit].rsplit(" ", 1)[0].rstrip(" ,;:") + "…"
    return clean
