"""Charter reading, function by function (issue 17, mutation check): which findings of a model's reading are
refused and why, how they compare with the rules parser, and what confirming them writes into the charter. The
charter and the readings are written here; expectations are worked out by hand from the rules in the module
docstring of copilot/features/charter_reading.py."""

from __future__ import annotations

import pytest

from copilot.errors import InvalidInput
from copilot.features.charter_reading import CharterReader, CharterReadingOut, compare, decide, reading_problems
from copilot.ingest.charter import parse_charter
from tests.fakes import FakeLLM

SOURCE = """# Community charter of the Brine Club

## Tone
Keep posts calm: one exclamation mark per post at most, and no more than two emoji.

## Words
Say "members", not "customers" or "users".

## Promotion
Never ask members to share our posts on their networks.
"""


def reading(**fields) -> CharterReadingOut:
    return CharterReadingOut.model_validate(fields)


def test_a_preferred_term_with_a_replaced_word_missing_from_its_quote_is_refused_by_name():
    out = reading(preferred_terms=[{"term": "members", "instead_of": ["customers", "fans"],
                                    "quote": 'Say "members", not "customers" or "users".'}])
    assert reading_problems(out, SOURCE) == ["preferred term 'members': 'fans' is not in its quote"]


def test_a_banned_term_whose_quote_is_not_in_the_charter_is_refused_by_its_term():
    out = reading(banned_terms=[{"term": "cheap", "quote": "Never call our jars cheap."}])
    assert reading_problems(out, SOURCE) == ["banned term 'cheap': its quote is not in the charter: 'Never call our jars cheap.'"]


def test_limits_quoted_from_the_charter_are_read_and_a_limit_quoting_other_words_is_refused():
    charter = parse_charter(SOURCE, "markdown")
    quote = "one exclamation mark per post at most, and no more than two emoji"
    out = reading(emoji_limit={"number": 2, "quote": quote}, exclamation_limit={"number": 1, "quote": quote})
    proposals, review = compare(charter, out, SOURCE)
    assert (charter.emoji_limit, charter.exclamation_limit) == (2, 1)  # the rules parser read both itself
    assert review.refused == [] and review.agreed == 2 and proposals == []
    wrong = reading(exclamation_limit={"number": 1, "quote": "Never ask members to share our posts"})
    assert reading_problems(wrong, SOURCE) == [
        "exclamation limit '1': its quote does not speak of exclamation marks"]


def test_a_new_rule_is_a_proposal_without_a_note_and_confirming_it_cites_its_passage():
    charter = parse_charter(SOURCE, "markdown")
    assert charter.rules, "the rules parser reads the share rule"
    out = reading(rules=[{"type": "no_superlatives", "quote": "Keep posts calm"}])
    proposals, review = compare(charter, out, SOURCE)
    assert [(p.rule_type, p.note) for p in proposals] == [("no_superlatives", None)]  # a rule type is no scalar
    tone = next(p.id for p in charter.passages if "Keep posts calm" in p.text)
    confirmed = decide(charter.model_copy(update={"proposals": proposals}), [proposals[0].id], [])
    added = next(r for r in confirmed.rules if r.type == "no_superlatives")
    assert added.passage_id == tone and added.text == "Keep posts calm"


def test_deciding_an_unknown_finding_names_the_accept_field():
    charter = parse_charter(SOURCE, "markdown")
    with pytest.raises(InvalidInput) as refused:
        decide(charter, ["nope"], [])
    assert refused.value.field == "accept" and "'nope'" in str(refused.value)


def test_a_reading_records_its_usage_for_the_brand_and_the_feature():
    recorded: list[dict[str, str]] = []
    llm = FakeLLM({"banned_terms": [], "preferred_terms": [], "rules": []},
                  recorder=lambda meta, model, usage, ok: recorded.append(meta))
    CharterReader(llm).read("brine", SOURCE, parse_charter(SOURCE, "markdown"))
    assert recorded == [{"brand": "brine", "feature": "charter_reading"}]


def test_a_confirmed_limit_replaces_the_parsers_and_cites_its_passage():
    charter = parse_charter(SOURCE, "markdown")
    out = reading(emoji_limit={"number": 3, "quote": "no more than two emoji"})
    proposals, _ = compare(charter, out, SOURCE)
    assert [(p.number, p.note) for p in proposals] == [(3, "the rules parser read 2")]
    confirmed = decide(charter.model_copy(update={"proposals": proposals}), [proposals[0].id], [])
    tone = next(p.id for p in charter.passages if "Keep posts calm" in p.text)
    assert confirmed.emoji_limit == 3 and confirmed.sources["emoji_limit"] == tone


def test_a_proposal_quoting_only_the_front_matter_is_refused_for_want_of_a_passage():
    """A small live model quoted 'tu,' for a finding: the words are in the source (its front matter), in no passage,
    so the proposal could neither be shown with its passage nor cited once confirmed."""
    source = "---\nbrand: Brine Club\nregister: tu\n---\n" + SOURCE
    charter = parse_charter(source, "markdown")
    out = reading(rules=[{"type": "no_superlatives", "quote": "tu,"}, {"type": "no_urgency", "quote": "Keep posts calm"}])
    proposals, review = compare(charter, out, source)
    assert [(p.rule_type, p.passage_id is not None) for p in proposals] == [("no_urgency", True)]
    assert review.refused == ["rule 'no_superlatives': its quote is in no passage of the charter: 'tu,'"]

