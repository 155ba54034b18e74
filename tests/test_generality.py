"""The engines and prompts carry no word of the sample brand: its name, its rituals, its sector (issue 11).
The sample is one customer among many; `copilot/sample.py` is its loader and the only place allowed to name it."""

import re
from pathlib import Path

from copilot.ingest.charter import parse_charter
from tests.conftest import ROOT

SECTOR = ("vélo", "velo", "vélos", "bike", "bikes", "bicycle", "cycliste", "cyclistes", "cyclist", "chaîne", "pneu",
          "pneus", "tubeless", "crevaison", "puncture", "frein", "freins", "brake", "brakes", "dérailleur",
          "derailleur", "atelier", "roule", "roules", "rouler", "ride", "rides", "riding", "guidon", "selle")
ALLOWED = {ROOT / "copilot" / "sample.py"}


def _sample_words() -> set[str]:
    charter = parse_charter((ROOT / "knowledge" / "charter.md").read_text(encoding="utf-8"), filename="charter.md")
    names = {r.name.lower() for r in charter.rituals} | {(charter.brand or "").lower(), "roue libre", "roue-libre"}
    names |= {re.sub(r"^(?:le|la|les|l')\s*", "", n) for n in names}  # "Le carnet du lundi" -> "carnet du lundi"
    return {n for n in names if n} | set(SECTOR)


def _files() -> list[Path]:
    # Code and the data shipped with it (the contract's examples, the desk's pages and phrases), and the contract.
    shipped = [p for ext in ("py", "yaml", "toml", "html") for p in (ROOT / "copilot").rglob(f"*.{ext}")]
    paths = [*shipped, *(ROOT / "prompts").glob("*.toml"), ROOT / "openapi.yaml"]
    return [p for p in paths if p not in ALLOWED]


def test_no_sample_brand_word_in_engines_or_prompts():
    words = _sample_words()
    assert len(words) > len(SECTOR)  # the sample's ritual names were read, so the check is not vacuous
    pattern = re.compile(r"(?<![\w-])(?:" + "|".join(sorted((re.escape(w) for w in words), key=len, reverse=True))
                         + r")(?![\w-])", re.I)
    found = []
    for path in _files():
        for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            for m in pattern.finditer(line):
                found.append(f"{path.relative_to(ROOT)}:{lineno}: {m.group(0)!r}")
    assert not found, "sample-brand words in the engines:\n" + "\n".join(found)


def test_the_check_catches_a_planted_word(tmp_path):
    words = _sample_words()
    pattern = re.compile(r"(?<![\w-])(?:" + "|".join(re.escape(w) for w in words) + r")(?![\w-])", re.I)
    assert pattern.search('HINTS = r"jeudi réparation|vitrine"') and pattern.search("l'Atelier répond")
    assert not pattern.search("override_guards = True; a strider")
