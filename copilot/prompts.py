"""Prompts are data: `prompts/<task>.<lang>.toml` files with name, version, system and user templates.

Rendered with `string.Template.substitute`, so a missing variable is an error; every rendering carries the
hash of exactly what is sent.
"""

from __future__ import annotations

import hashlib
import tomllib
from functools import lru_cache
from pathlib import Path
from string import Template

from pydantic import BaseModel, ConfigDict

PROMPTS_DIR = Path(__file__).resolve().parent.parent / "prompts"


class PromptFile(BaseModel):
    """One prompt file."""

    model_config = ConfigDict(extra="forbid")
    name: str
    version: str
    system: str
    user: str


class RenderedPrompt(BaseModel):
    """What is sent, and how to cite it."""

    name: str
    version: str
    language: str
    system: str
    user: str
    hash: str

    @property
    def approx_tokens(self) -> int:
        """A conservative token estimate (4 characters per token; no tokenizer download)."""
        return (len(self.system) + len(self.user)) // 4 + 1


@lru_cache(maxsize=64)
def load_prompt(task: str, lang: str, root: Path = PROMPTS_DIR) -> PromptFile:
    """The prompt for a task in a language, falling back to English."""
    path = root / f"{task}.{lang}.toml"
    if not path.exists():
        path = root / f"{task}.en.toml"
    with path.open("rb") as fh:
        return PromptFile.model_validate(tomllib.load(fh))


def render(task: str, lang: str, **values: str) -> RenderedPrompt:
    """Substitute the values; a missing one raises KeyError naming it."""
    prompt = load_prompt(task, lang)
    system = Template(prompt.system).substitute(values)
    user = Template(prompt.user).substitute(values)
    digest = hashlib.sha256(f"{system}\x1e{user}".encode("utf-8")).hexdigest()
    return RenderedPrompt(name=prompt.name, version=prompt.version, language=lang, system=system, user=user, hash=digest)


def load_templates(name: str, lang: str, root: Path = PROMPTS_DIR) -> dict[str, dict[str, str]]:
    """Rules-engine templates (`prompts/<name>.<lang>.toml`, one table per kind)."""
    path = root / f"{name}.{lang}.toml"
    if not path.exists():
        path = root / f"{name}.en.toml"
    with path.open("rb") as fh:
        return tomllib.load(fh)
