"""The desk's interface sentences, one TOML file per language (`locales/<lang>.toml`), and the choice of language."""

from __future__ import annotations

import tomllib
from functools import lru_cache
from pathlib import Path
from string import Template
from typing import Any

LOCALES = Path(__file__).resolve().parent / "locales"
LANGUAGES = ("en", "fr")


def _flatten(table: dict[str, Any], prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in table.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_flatten(value, name + "."))
        else:
            out[name] = str(value)
    return out


@lru_cache(maxsize=None)
def catalog(lang: str) -> dict[str, str]:
    """Every sentence of one language, by dotted key."""
    return _flatten(tomllib.loads((LOCALES / f"{lang}.toml").read_text(encoding="utf-8")))


class Texts:
    """The sentences of one language; `t("queue.title", brand="x")` fills `$brand`. A missing key is an error."""

    def __init__(self, lang: str):
        self.lang = lang if lang in LANGUAGES else "en"
        self.table = catalog(self.lang)

    def __call__(self, key: str, **values: Any) -> str:
        return Template(self.table[key]).substitute(values) if values else self.table[key]

    def get(self, key: str, default: str | None = None) -> str | None:
        """A sentence that may not exist (e.g. the translation of a KPI a service added later)."""
        return self.table.get(key, default)


def choose_language(accept_language: str | None, brand_language: str | None) -> str:
    """The browser's first supported language (by q-value), else the brand's, else English."""
    ranked: list[tuple[float, int, str]] = []
    for i, item in enumerate((accept_language or "").split(",")[:20]):
        tag, _, params = item.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        ranked.append((-q, i, tag.strip().lower()[:2]))
    for neg_q, _, lang in sorted(ranked):
        if lang in LANGUAGES and neg_q < 0:
            return lang
    return brand_language if brand_language in LANGUAGES else "en"
