"""What community text looks like before it reaches an LLM: members pseudonymised (M1, M2 …, mapped back
after), e-mail addresses and phone numbers redacted, and the whole fenced as untrusted data.

Redaction runs on every message of every prompt, so it is linear in the text's length whatever the text:
each run of word characters or of digits is scanned once, and libphonenumber (which decides what is a phone
number) only ever sees short runs, a bounded number of times per text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from copilot.textrules import EMAIL, phone_spans

FENCE_OPEN, FENCE_CLOSE = "<community_data untrusted=\"true\">", "</community_data>"


def redact(text: str) -> str:
    """Replace e-mail addresses and phone numbers with placeholders; dates, sizes, prices and order
    numbers stay."""
    if "@" in text:
        text = EMAIL.sub(lambda m: "[email]" if m.group(1) else m.group(0), text)
    spans = phone_spans(text)
    if not spans:
        return text
    out, last = [], 0
    for start, end in spans:
        out += [text[last:start], "[phone]"]
        last = end
    out.append(text[last:])
    return "".join(out)


def fence(text: str) -> str:
    """Wrap untrusted text; a closing tag inside it cannot end the fence early."""
    safe = text.replace("</community_data", "<\\/community_data").replace("<community_data", "<\\community_data")
    return f"{FENCE_OPEN}\n{safe}\n{FENCE_CLOSE}"


@dataclass
class Pseudonyms:
    """A two-way map between members and stable placeholders for one prompt."""

    forward: dict[str, str] = field(default_factory=dict)   # name -> M1
    backward: dict[str, str] = field(default_factory=dict)  # M1 -> name

    def alias(self, name: str) -> str:
        """The placeholder of a member name (created on first use)."""
        if not name:
            return "M?"
        if name not in self.forward:
            token = f"M{len(self.forward) + 1}"
            self.forward[name], self.backward[token] = token, name
        return self.forward[name]

    def scrub(self, text: str) -> str:
        """Redact contact details and replace every known member name (and @handle) with its placeholder."""
        text = redact(text)
        for name in sorted(self.forward, key=len, reverse=True):
            text = re.sub(r"@?(?<!\w)" + re.escape(name) + r"(?!\w)", self.forward[name], text)
        return text

    def restore(self, text: str) -> str:
        """Map placeholders back to member names."""
        return re.sub(r"\bM(\d+)\b", lambda m: self.backward.get(m.group(0), m.group(0)), text)

    def known(self, token: str) -> bool:
        """Whether a placeholder belongs to this prompt."""
        return token in self.backward
