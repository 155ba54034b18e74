"""What community text looks like before it reaches an LLM: members pseudonymised (M1, M2 …, mapped back
after), e-mail addresses and phone numbers redacted, and the whole fenced as untrusted data.

Redaction runs on every message of every prompt, so it is linear in the text's length whatever the text:
each run of word characters or of digits is scanned once, and libphonenumber (which decides what is a phone
number) only ever sees short runs, a bounded number of times per text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

import phonenumbers

# A run of address characters, with a domain when '@' follows it. finditer consumes each run whole, so a long
# run without '@' costs its length once (the old `[\w.+-]+@…` rescanned it from every position: quadratic).
EMAIL = re.compile(r"[\w.+-]++(@[\w-]++(?:\.[\w-]++)+)?")
# Digits in the groups phone numbers are written in ("06 12 34 56 78", "(415) 555-0132", "+33 (0)6 …").
# No '/': "27/11/2026" and "205/55 R16" stay apart. Possessive, so each run is read once.
NUMBER_RUN = re.compile(r"\+?\(?\d++(?:[ \u00a0.()-]{1,3}+\d++)*+")
# A date with a four-digit year is never part of a number: "03-12-2026 14:30" is a date and an hour.
DATE = re.compile(r"(?<!\d)(?:\d{1,2}[-./]\d{1,2}[-./](?:19|20)\d\d|(?:19|20)\d\d[-./]\d{1,2}[-./]\d{1,2})(?!\d)")
# FR and GB numbers start with a trunk 0 or a country code; any digit string can be a US number, so US
# numbers must also be grouped as the US writes them: "2026-000123" (an order) and "2026-12-03 14" (a date
# and an hour) are valid US numbers, not US-grouped ones.
REGIONS = (("FR", phonenumbers.Leniency.VALID), ("GB", phonenumbers.Leniency.VALID),
           ("US", phonenumbers.Leniency.STRICT_GROUPING))
MIN_DIGITS = 7           # fewer digits is never a phone number worth hiding
ONE_NUMBER_DIGITS = 17   # the most one written number holds ("011 44 20 7946 0958" and a bit)
CHECKED_DIGITS = 24      # longer runs are not shown to libphonenumber (its cost grows with the run)
MAX_CHECKS = 32          # different runs shown to libphonenumber per text (~1 ms each)
FENCE_OPEN, FENCE_CLOSE = "<community_data untrusted=\"true\">", "</community_data>"


def redact(text: str) -> str:
    """Replace e-mail addresses and phone numbers with placeholders; dates, sizes, prices and order
    numbers stay."""
    if "@" in text:
        text = EMAIL.sub(lambda m: "[email]" if m.group(1) else m.group(0), text)
    spans = _phone_spans(text)
    if not spans:
        return text
    out, last = [], 0
    for start, end in spans:
        out += [text[last:start], "[phone]"]
        last = end
    out.append(text[last:])
    return "".join(out)


def _phone_spans(text: str) -> list[tuple[int, int]]:
    """Sorted, disjoint spans of the phone numbers in a text."""
    masked = DATE.sub(lambda m: "_" * len(m.group(0)), text)  # same length: spans stay valid
    spans: list[tuple[int, int]] = []
    read: dict[str, tuple[tuple[int, int], ...]] = {}  # window -> the numbers in it
    for run in NUMBER_RUN.finditer(masked):
        digits = sum(map(str.isdigit, run.group(0)))
        if digits < MIN_DIGITS:
            continue
        # One character of context each side: libphonenumber refuses a number glued to letters ("A0612…").
        lo = max(run.start() - 1, 0)
        window = masked[lo:run.end() + 1]
        if digits <= CHECKED_DIGITS and (window in read or len(read) < MAX_CHECKS):
            if window not in read:
                read[window] = _numbers_in(window)
            if read[window] or digits <= ONE_NUMBER_DIGITS:
                spans += [(lo + start, lo + end) for start, end in read[window]]
                continue
        # Fail closed: numbers side by side or a wall of digits (too many digits for one number, none found),
        # or more different numbers in one text than are worth checking.
        spans.append(run.span())
    return _merged(spans)


@lru_cache(maxsize=2048)
def _numbers_in(window: str) -> tuple[tuple[int, int], ...]:
    """Spans of the phone numbers libphonenumber finds in a short window, any of the regions."""
    found = {(m.start, m.end) for region, leniency in REGIONS
             for m in phonenumbers.PhoneNumberMatcher(window, region, leniency=leniency)}
    return tuple(sorted(found))


def _merged(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if out and start < out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


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
