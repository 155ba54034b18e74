"""Every sentence the engines write for people lives in `prompts/phrases.<lang>.toml`, beside the ritual
templates and the LLM prompts: explanations of drift flags, why a member is suggested, shout-outs, the
rewrite's invitation, alerts and notes. Code only picks a key and fills its `{placeholders}`.

`say(lang, "drift.urgency")` reads section `drift`, key `urgency`; with `register="tu"` a `urgency_tu` key wins
when the language has one. Unknown languages read English. A missing key or placeholder is an error (a test
checks that both languages have the same keys and placeholders).
"""

from __future__ import annotations

import tomllib
from functools import lru_cache
from typing import Any

from copilot.prompts import PROMPTS_DIR

LANGUAGES = ("en", "fr")


@lru_cache(maxsize=4)
def table(lang: str) -> dict[str, dict[str, str]]:
    """All phrases of a language, by section."""
    path = PROMPTS_DIR / f"phrases.{lang if lang in LANGUAGES else 'en'}.toml"
    with path.open("rb") as fh:
        return tomllib.load(fh)


def say(lang: str, key: str, *, register: str | None = None, **values: Any) -> str:
    """The phrase `section.key` in `lang` (its `_tu`/`_vous` form when the register asks for it, its `_one` form
    when `count` is singular: 1 in English, 0 or 1 in French), filled."""
    section, _, name = key.partition(".")
    entries = table(lang)[section]
    count = values.get("count")
    if isinstance(count, int) and (count == 1 or lang == "fr" and count == 0) and f"{name}_one" in entries:
        name = f"{name}_one"
    text = entries.get(f"{name}_{register}") if register else None
    if text is None:
        text = entries[name] if name in entries else entries[f"{name}_vous"]
    return text.format(**values)


def join(items: list[str], lang: str, conjunction: str = "and") -> str:
    """'a, b and c' (or 'a, b or c') in the language."""
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + f" {say(lang, f'words.{conjunction}')} " + items[-1]
