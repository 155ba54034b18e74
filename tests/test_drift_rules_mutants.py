"""The drift rules' pattern builder (issue 17, mutation check). Every rule of copilot/features/drift_rules.py is
built by `_p` when the module is imported, so a mutant of `_p` is only seen by a test that calls it: these tests
build patterns from alternatives written here and check the promise every rule relies on (any alternative, whole
words only, any case, accented letters counted as letters)."""

from __future__ import annotations

from copilot.features.drift_rules import _p


def found(pattern, text: str) -> list[str]:
    return [m.group(0) for m in pattern.finditer(text)]


def test_every_alternative_matches_as_a_whole_word_in_any_case():
    pattern = _p(r"promo code", r"act now", r"soldes")
    text = "ACT NOW: use the Promo Code at the soldes, not in the promo codes thread or the soldesque sale."
    assert found(pattern, text) == ["ACT NOW", "Promo Code", "soldes"]


def test_a_word_ending_in_an_accented_letter_is_not_a_match_inside_a_longer_word():
    # 'vite' must not match inside 'vitesse' nor after an accented letter ('évite')
    pattern = _p(r"vite")
    assert found(pattern, "Venez vite, la vitesse compte, on évite la file.") == ["vite"]
