"""The charter parser against tests/charters_corpus: 14 charters and what a careful human reads in each.

The corpus is a development corpus: the parser's patterns were written while reading these charters, so these
scores say what it recovers on phrasing it has seen, not on charters it has never met (tests/test_charter.py
holds a few phrasings written apart from it). Measured when this test was written: every scalar 14/14 and every
list F1 1.00; the thresholds keep the scalars exact and leave list fields a small margin (0.95), so a change that
loses a field on a brand's charter fails here.

Run `python -m tests.test_charter_corpus` for the per-charter differences.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from copilot.ingest.charter import parse_charter
from copilot.types import Charter

CORPUS = Path(__file__).parent / "charters_corpus"
FORMATS = {".md": "markdown", ".yaml": "yaml", ".json": "json"}
SCALARS = ("language", "register", "emoji_limit", "exclamation_limit", "max_promotional_share", "max_posts_per_day")
LISTS = ("banned_terms", "preferred_terms", "rituals", "rules", "unparsed_sections")
QUOTES = "«»\"“”„'‘’`*"
# Scalars right out of 14 and F1 per list field (measured: 14/14 and 1.00 everywhere).
MIN_RIGHT = {"language": 14, "register": 14, "emoji_limit": 14, "exclamation_limit": 14,
             "max_promotional_share": 14, "max_posts_per_day": 14}
MIN_F1 = {"banned_terms": 0.95, "preferred_terms": 0.95, "rituals": 0.95, "ritual_cadences": 0.9,
          "rules": 0.95, "unparsed_sections": 0.95}


def charters(corpus: Path = CORPUS) -> list[Path]:
    """Every corpus charter (anything with an expected file next to it)."""
    return sorted(p for p in corpus.iterdir() if p.suffix in FORMATS and p.with_suffix(".expected.json").exists())


def norm(text: str) -> str:
    """A term as compared: lower-case, without quotes, emphasis or extra spaces."""
    text = unicodedata.normalize("NFC", text).replace("’", "'")
    return " ".join(text.strip().strip(QUOTES).strip().lower().split())


def norm_heading(text: str) -> str:
    """A section heading as compared: without leading numbering ("10. "), case-insensitive."""
    return norm(re.sub(r"^\s*\d+[.)]?\s+", "", text))


def recovered(charter: Charter) -> dict[str, Any]:
    """The parser's reading in the expected files' shape."""
    sections = [u.section for u in charter.unparsed if getattr(u, "kind", "section") == "section"]
    return {
        "language": charter.languages[0] if charter.languages else None,
        "register": charter.register,
        "emoji_limit": charter.emoji_limit,
        "exclamation_limit": charter.exclamation_limit,
        "max_promotional_share": charter.promotion_policy.max_promotional_share,
        "max_posts_per_day": getattr(charter, "max_posts_per_day", None),
        "banned_terms": [t.term for t in charter.banned_terms],
        "preferred_terms": [{"term": t.term, "instead_of": t.instead_of} for t in charter.preferred_terms],
        "rituals": [{"name": r.name, "cadence": r.cadence} for r in charter.rituals],
        "rules": [r.type for r in getattr(charter, "rules", [])],
        "unparsed_sections": [s.split(" / ")[-1] for s in sections],
    }


def keys(name: str, values: list[Any]) -> set[Any]:
    """The comparable set of a list field."""
    if name == "preferred_terms":
        return {(norm(v["term"]), frozenset(norm(i) for i in v["instead_of"])) for v in values}
    if name == "rituals":
        return {norm(v["name"]) for v in values}
    if name == "unparsed_sections":
        return {norm_heading(v) for v in values}
    if name == "rules":
        return set(values)
    return {norm(v) for v in values}


def same_scalar(got: Any, want: Any) -> bool:
    if isinstance(want, float) and isinstance(got, (int, float)):
        return math.isclose(got, want, abs_tol=1e-4)
    return got == want and type(got) is type(want)


@dataclass
class Score:
    """Per-field tallies over the corpus."""

    right: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SCALARS, 0))
    counts: dict[str, list[int]] = field(default_factory=dict)  # field -> [true pos, false pos, false neg]
    misses: list[str] = field(default_factory=list)
    total: int = 0

    def f1(self, name: str) -> tuple[float, float, float]:
        tp, fp, fn = self.counts.get(name, [0, 0, 0])
        precision = tp / (tp + fp) if tp + fp else 1.0
        recall = tp / (tp + fn) if tp + fn else 1.0
        return precision, recall, (2 * precision * recall / (precision + recall) if precision + recall else 0.0)

    def tally(self, name: str, got: set[Any], want: set[Any], slug: str) -> None:
        c = self.counts.setdefault(name, [0, 0, 0])
        c[0], c[1], c[2] = c[0] + len(got & want), c[1] + len(got - want), c[2] + len(want - got)
        if got != want:
            extra, missing = sorted(map(str, got - want)), sorted(map(str, want - got))
            self.misses.append(f"{slug} {name}: extra {extra} missing {missing}")

    def summary(self) -> str:
        lines = [f"{name:<22} {self.right[name]:>2}/{self.total}" for name in SCALARS]
        for name in (*LISTS, "ritual_cadences"):
            p, r, f = self.f1(name)
            lines.append(f"{name:<22} P {p:.2f}  R {r:.2f}  F1 {f:.2f}")
        return "\n".join(lines)


def score(*, strict: bool = True, corpus: Path = CORPUS) -> Score:
    """Parse every corpus charter and compare it with its expected reading."""
    s = Score()
    for path in charters(corpus):
        slug, want = path.stem, json.loads(path.with_suffix(".expected.json").read_text(encoding="utf-8"))
        try:
            got = recovered(parse_charter(path.read_text(encoding="utf-8"), FORMATS[path.suffix]))
        except Exception as exc:  # only when measuring an older parser (strict=False)
            if strict:
                raise
            s.misses.append(f"{slug}: does not parse ({exc})")
            got = {**dict.fromkeys(SCALARS), **{name: [] for name in LISTS}}
        s.total += 1
        for name in SCALARS:
            if same_scalar(got[name], want[name]):
                s.right[name] += 1
            else:
                s.misses.append(f"{slug} {name}: got {got[name]!r}, want {want[name]!r}")
        for name in LISTS:
            s.tally(name, keys(name, got[name]), keys(name, want[name]), slug)
        cadences = {norm(r["name"]): norm(r["cadence"] or "") for r in got["rituals"]}
        s.tally("ritual_cadences", {(n, c) for n, c in cadences.items() if n in keys("rituals", want["rituals"])},
                {(norm(r["name"]), norm(r["cadence"])) for r in want["rituals"]}, slug)
    return s


UNSEEN = Path(__file__).parent / "charters_unseen"
# tests/charters_unseen: five charters written by an outsider who never read the code. Measured BEFORE any change
# (banned terms F1 0.00, preferred 0.22, exclamation 2/5, emoji 4/5); the term reader was then improved on them
# (generic polarity cues, emphasis, generic keys): these floors keep what that fixed. Rituals, promotional share
# and posts per day were not worked on (rituals F1 0.63, share 2/5, posts per day 3/5).
UNSEEN_MIN_F1 = {"banned_terms": 0.95, "preferred_terms": 0.9, "rules": 0.9}


def test_outsider_charters_after_the_term_reader_was_improved_on_them():
    s = score(corpus=UNSEEN)
    assert s.total == 5
    for name, minimum in UNSEEN_MIN_F1.items():
        assert s.f1(name)[2] >= minimum, f"{name}: F1 {s.f1(name)[2]:.2f}\n" + s.summary() + "\n" + "\n".join(s.misses)
    assert s.right["emoji_limit"] == 5 and s.right["exclamation_limit"] >= 4


UNSEEN_B = Path(__file__).parent / "charters_unseen_b"


def test_second_outsider_set_first_measured_untouched_then_tuned_on():
    """tests/charters_unseen_b: four more outsider charters. First measured untouched (after the changes made on
    tests/charters_unseen): language 4/4, register 4/4, rituals F1 1.00, rules F1 0.95, but banned terms F1 0.00
    and preferred terms F1 0.44. The term reader was then improved on them (cross-sentence pairs, verdicts after a
    group, "so are", replacement mappings, lists explained by the text beside them): banned 0.72, preferred 0.78.
    A development set since; tests/charters_unseen_c is the untouched one."""
    s = score(corpus=UNSEEN_B)
    assert s.total == 4 and s.right["language"] == 4 and s.right["register"] == 4
    assert s.f1("rules")[2] >= 0.9 and s.f1("rituals")[2] >= 0.9 and s.f1("ritual_cadences")[2] >= 0.9, s.summary()
    assert s.f1("banned_terms")[2] >= 0.7 and s.f1("preferred_terms")[2] >= 0.75, s.summary()


UNSEEN_C = Path(__file__).parent / "charters_unseen_c"


def test_third_outsider_set_measured_once_never_tuned_on():
    """tests/charters_unseen_c: four outsider charters measured once, after all the changes above, and never tuned
    on — the figures to quote for charters the parser has not seen: language, register, emoji and exclamation
    limits 4/4, rituals F1 1.00, banned terms F1 0.86, rules 0.80, preferred terms 0.44 (a two-column table read
    the wrong way round), promotional share 1/4, posts per day 2/4. Floors catch a regression; they are not goals."""
    s = score(corpus=UNSEEN_C)
    assert s.total == 4 and all(s.right[k] == 4 for k in ("language", "register", "emoji_limit", "exclamation_limit"))
    assert s.f1("rituals")[2] >= 0.9 and s.f1("banned_terms")[2] >= 0.8 and s.f1("rules")[2] >= 0.75, s.summary()


def test_promotional_share_and_posting_rate_as_the_outsiders_wrote_them():
    """Tuned on the three outsider sets above (which makes them development sets for these two fields): the share
    and the daily rate were then read as 'sur vingt publications, une seule', 'one-tenth', 'un quart', 'trois sur
    dix' under a key, 'sur quatre, trois au moins parlent d'autre chose' (= 1/4), 'one in twenty-five', 'deux
    publications dans la journée', 'Posts in a day…: two'. Before: share 2/5, 2/4, 1/4; per day 3/5, 3/4, 2/4.
    The same change read the two-column tables whichever side holds the term to use, {"ifTempted", "write"}
    pairs, a 'Word | Why' table under a banning heading, and gates behind a like or a follow."""
    for corpus, n in ((UNSEEN, 5), (UNSEEN_B, 4), (UNSEEN_C, 4)):
        s = score(corpus=corpus)
        assert s.right["max_promotional_share"] == n and s.right["max_posts_per_day"] == n, s.summary() + "\n" + \
            "\n".join(s.misses)
    c = score(corpus=UNSEEN_C)
    assert min(c.f1(k)[2] for k in ("banned_terms", "preferred_terms", "rules")) >= 0.95, c.summary()


UNSEEN_D = Path(__file__).parent / "charters_unseen_d"


def test_fourth_outsider_set_first_measured_untouched_then_tuned_on():
    """tests/charters_unseen_d: four outsider charters asked to stress the share, the posting rate, rituals and term
    tables, committed before being measured. First measurement, after the share/rate changes above and before any
    change made on it: language, register, exclamation 4/4, posts per day 4/4, promotional share 3/4 ('le
    dixième'), emoji 3/4 ('Les émojis ? Nous nous en passons.'), banned terms F1 0.78, preferred 0.78, rituals
    0.72, rules 0.94. Then tuned on (unquoted word lists after 'on évite de parler de', '« a » et « b », jamais
    « c »', {term: [replaced…]} under a preference key, bold names after an article, the single H1 as the title,
    contact and history headings, allowed announcements under a forbidding heading): every field 4/4 and F1 1.00.
    A development set since."""
    s = score(corpus=UNSEEN_D)
    assert s.total == 4 and all(s.right[k] == 4 for k in SCALARS), s.summary() + "\n" + "\n".join(s.misses)
    assert min(s.f1(k)[2] for k in LISTS) >= 0.95, s.summary() + "\n" + "\n".join(s.misses)


UNSEEN_E = Path(__file__).parent / "charters_unseen_e"


def test_fifth_outsider_set_first_measured_untouched_then_tuned_on():
    """tests/charters_unseen_e: four outsider charters, committed before being measured once after every change
    above: language, register, emoji 4/4; exclamation 3/4; promotional share 3/4; posts per day 1/4; banned terms
    F1 0.63, preferred 0.74, rituals 0.86, rules 0.91. Then the rate and share readers were widened with phrasings
    written without reading E: posts per day 2/4. Later (stop 12) it was tuned on, which makes it a development
    set: a 'Retired word | Why' table, {term: [replaced]} under a lexicon key, « X » remplace « Y », a sign that
    'n'apparaît dans aucune de nos publications', 'prendre la parole … fois dans la même journée', 'on any calendar
    day', codes 'newsletter only', quoted superlative claims, 'keep … for paying members', rituals named in bold
    in prose: every scalar 4/4, banned, rules and rituals F1 1.00, preferred 0.96. tests/charters_unseen_g is the
    set measured after that, untouched."""
    s = score(corpus=UNSEEN_E)
    assert s.total == 4 and all(s.right[k] == 4 for k in SCALARS), s.summary() + "\n" + "\n".join(s.misses)
    assert min(s.f1(k)[2] for k in ("banned_terms", "rules", "rituals")) >= 0.95, s.summary()
    assert s.f1("preferred_terms")[2] >= 0.9, s.summary()


UNSEEN_F = Path(__file__).parent / "charters_unseen_f"


def test_sixth_outsider_set_measured_then_read_for_its_misses():
    """tests/charters_unseen_f: four outsider charters (tattoo studio, swimming pool, comic shop, font foundry),
    committed before being measured once after every change above: language, register, emoji, exclamation,
    promotional share and posts per day 4/4; banned terms F1 0.80 (P 0.67), preferred 0.75, rituals 0.86, rules
    0.95. In stop 12 its misses were read too (rituals in bold in prose, '**readers** — not customers', quotes
    illustrating urgency or a contest): banned 0.89, preferred and rituals 1.00, rules 0.97. A development set
    since. Floors catch a regression; they are not goals."""
    s = score(corpus=UNSEEN_F)
    assert s.total == 4 and all(s.right[k] == 4 for k in SCALARS), s.summary()
    assert s.f1("rules")[2] >= 0.9 and s.f1("rituals")[2] >= 0.8 and s.f1("preferred_terms")[2] >= 0.7 and \
        s.f1("banned_terms")[2] >= 0.75, s.summary()


UNSEEN_G = Path(__file__).parent / "charters_unseen_g"


def test_seventh_outsider_set_first_measured_untouched_then_tuned_on():
    """tests/charters_unseen_g: four outsider charters (bakery, theatre, vet clinic, podcast network) asked to vary
    how bans and preferences are phrased (the request named some phrasings as examples), committed before being
    measured once after the stop-12 changes made on E and F: every scalar 4/4; banned terms F1 0.61 (P 1.00,
    R 0.44), preferred 0.90, rituals 0.88, rules 0.86. Then tuned on (a development set since): a sentence under
    a top-level key about words ('off_limits'), 'Pas de « a » ni de « b »' opening on a refusal, 'Même sort pour',
    a ritual's cadence before its bold name, 'reste toujours permis', a quoted superlative after 'call'/'prétendre':
    banned, rules and rituals F1 1.00, preferred 0.97. tests/charters_unseen_h is the set measured after that."""
    s = score(corpus=UNSEEN_G)
    assert s.total == 4 and all(s.right[k] == 4 for k in SCALARS), s.summary()
    assert min(s.f1(k)[2] for k in ("banned_terms", "rules", "rituals", "preferred_terms")) >= 0.95, s.summary()


UNSEEN_H = Path(__file__).parent / "charters_unseen_h"


def test_eighth_outsider_set_measured_once_never_tuned_on():
    """tests/charters_unseen_h: four outsider charters (bike-repair workshop, florist, board-game café, 3D-printer
    maker), written without any phrasing suggested, committed before being measured once after every change above,
    never tuned on — the figures to quote: every scalar 4/4; banned terms F1 0.80 (P 0.77: examples in urgency
    rules read as banned words; R 0.83), preferred 0.93, rituals 0.78 (rituals told in prose without bold), rules
    0.98. Floors catch a regression; they are not goals."""
    s = score(corpus=UNSEEN_H)
    assert s.total == 4 and all(s.right[k] == 4 for k in SCALARS), s.summary()
    assert s.f1("rules")[2] >= 0.9 and s.f1("rituals")[2] >= 0.7 and s.f1("preferred_terms")[2] >= 0.85 and \
        s.f1("banned_terms")[2] >= 0.75, s.summary()


def test_corpus_has_fourteen_charters_with_expectations():
    paths = charters()
    assert len(paths) == 14 and len(list(CORPUS.glob("*.expected.json"))) == 14


def test_every_field_is_recovered_from_the_corpus():
    s = score()
    print("\n" + s.summary())
    report = s.summary() + "\n" + "\n".join(s.misses)
    for name, minimum in MIN_RIGHT.items():
        assert s.right[name] >= minimum, f"{name}: {s.right[name]}/{s.total} right\n{report}"
    for name, minimum in MIN_F1.items():
        assert s.f1(name)[2] >= minimum, f"{name}: F1 {s.f1(name)[2]:.2f} < {minimum}\n{report}"


if __name__ == "__main__":
    import sys

    result = score(strict=False, corpus=Path(sys.argv[1]) if len(sys.argv) > 1 else CORPUS)
    print(result.summary())
    print("\n".join(result.misses))
