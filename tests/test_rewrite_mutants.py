"""The member-first rewrite, rule by rule (issue 17, mutation check): which clauses go, which words are cut, which
facts stay, how the typography is calmed and which invitation closes the post. Each expected output below was
worked out by hand from the rules in the module docstring of copilot/features/rewrite.py, on posts written here
(no sample brand); the flags are placed by hand too, so these tests do not depend on the rules engine."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from copilot.features.rewrite import member_first_rewrite
from copilot.types import Charter

INVITE_EN = "What do you think? Tell us what works for you."
INVITE_TU = "Et toi, qu'en penses-tu ? Raconte-nous ce qui marche pour toi."
INVITE_VOUS = "Et vous, qu'en pensez-vous ? Racontez-nous ce qui marche pour vous."


def flag(text: str, excerpt: str, kind: str) -> SimpleNamespace:
    """A flag of `kind` over the first occurrence of `excerpt` in `text`."""
    start = text.index(excerpt)
    return SimpleNamespace(type=kind, start=start, end=start + len(excerpt), excerpt=excerpt)


def rewrite(text: str, *flags: SimpleNamespace, charter: Charter | None = None, lang: str = "en") -> str:
    return member_first_rewrite(text, list(flags), charter=charter, lang=lang)


def test_a_clause_that_only_pressures_goes_and_the_facts_stay():
    text = "Share this post with three friends. The new lights cost 25 € in the shop. Hurry, only today!"
    out = rewrite(text, flag(text, "Share this post", "over_solicitation"), flag(text, "Hurry", "urgency"),
                  flag(text, "only today", "urgency"))
    assert out == f"The new lights cost 25 € in the shop. {INVITE_EN}"


def test_a_sentence_asking_to_tag_goes_whole_and_the_next_keeps_its_price():
    # main's rule: nothing of a sentence that asks members to relay or tag is kept, even a price beside the ask
    text = "Tag two friends and get the lock for 30 € at the shop. The lock costs 30 € in the shop on Sunday."
    out = rewrite(text, flag(text, "Tag two friends", "no_tag_asks"))
    assert out == f"The lock costs 30 € in the shop on Sunday. {INVITE_EN}"


def test_urgency_naming_a_date_is_kept_other_urgency_is_cut():
    dated = "Prices drop 20% until Sunday for every club member."
    assert rewrite(dated, flag(dated, "until Sunday", "urgency")) == f"{dated} {INVITE_EN}"
    rushed = "Prices drop 20% for every club member right now."
    assert rewrite(rushed, flag(rushed, "right now", "urgency")) == f"Prices drop 20% for every club member. {INVITE_EN}"


@pytest.mark.parametrize("kind", ["unsolicited_link", "no_superlatives", "no_urgency"])
def test_span_flags_cut_only_their_words(kind: str):
    text = "Our repair evening is on Thursday with the best mechanics in town."
    out = rewrite(text, flag(text, " the best", kind))
    assert out == f"Our repair evening is on Thursday with mechanics in town. {INVITE_EN}"


def test_a_banned_term_takes_its_clause_with_it():
    # main's rule: a banned word is a claim its clause makes; the other clause of the sentence stays
    text = "Our repair evening is on Thursday, with the best mechanics in town."
    assert rewrite(text, flag(text, "the best", "banned_term")) == f"Our repair evening is on Thursday. {INVITE_EN}"


@pytest.mark.parametrize("kind", ["off_tone", "hard_sell", "promo_quota"])
def test_other_flags_change_no_words(kind: str):
    text = "Our repair evening is on Thursday with the best mechanics in town."
    assert rewrite(text, flag(text, "the best", kind)) == f"{text} {INVITE_EN}"


def test_a_fragment_left_by_a_cut_goes_an_untouched_short_clause_stays_and_nothing_left_is_the_invitation():
    text = "Meet at 9h, right now please."
    assert rewrite(text, flag(text, "right now", "urgency")) == f"Meet at 9h. {INVITE_EN}"  # 'please' alone goes
    assert rewrite("Six places, 40 € with the oils.") == f"Six places, 40 € with the oils. {INVITE_EN}"
    share = "Share this post!"
    assert rewrite(share, flag(share, "Share this post", "over_solicitation")) == INVITE_EN


def test_typography_is_calmed():
    text = "The SPRING ride leaves the shop at 9h , bring a spare tube and a pump ;"
    assert rewrite(text) == f"The spring ride leaves the shop at 9h, bring a spare tube and a pump. {INVITE_EN}"
    bangs = "The workshop is open again this week !! Who is bringing a wheel to true ??"
    assert rewrite(bangs) == f"The workshop is open again this week. Who is bringing a wheel to true? {INVITE_EN}"
    lower = "the shop opens at 9h on Saturday. the mechanics will check brakes for free."
    assert rewrite(lower) == f"The shop opens at 9h on Saturday. The mechanics will check brakes for free. {INVITE_EN}"
    stops = "We ride along the canal on Sunday morning,. Meet at the bridge at 9h."
    assert rewrite(stops) == f"We ride along the canal on Sunday morning. Meet at the bridge at 9h. {INVITE_EN}"


def test_emoji_follow_the_charter_limit_else_the_writing_default():
    text = "Ride along the river with us 🚲🌞🚲"
    assert rewrite(text) == f"Ride along the river with us 🚲🌞. {INVITE_EN}"  # the default keeps two
    none = Charter(emoji_limit=0)
    assert rewrite(text, charter=none) == f"Ride along the river with us. {INVITE_EN}"
    three = Charter(emoji_limit=3)
    assert rewrite(text, charter=three) == f"Ride along the river with us 🚲🌞🚲. {INVITE_EN}"


def test_the_invitation_follows_the_language_and_the_charter_register():
    text = "La sortie du dimanche part de la boutique à 9h."
    assert rewrite(text, lang="fr") == f"{text} {INVITE_VOUS}"  # no charter: the polite form
    assert rewrite(text, lang="fr", charter=Charter(register="tu")) == f"{text} {INVITE_TU}"
    assert rewrite(text, lang="fr", charter=Charter(register="vous")) == f"{text} {INVITE_VOUS}"
    assert rewrite(text, lang="fr", charter=Charter()) == f"{text} {INVITE_VOUS}"
    assert rewrite(text, lang="en", charter=Charter(register="tu")) == f"{text} {INVITE_EN}"


def test_a_repeated_clause_is_cut_at_its_own_flags_and_the_gap_closes():
    text = "Bring the best lights on Sunday. Bring the best lights on Sunday."
    second = text.index("the best", 10)
    flags = [flag(text, "the best", "no_superlatives"),
             SimpleNamespace(type="no_superlatives", start=second, end=second + 8, excerpt="the best")]
    assert rewrite(text, *flags) == f"Bring lights on Sunday. Bring lights on Sunday. {INVITE_EN}"


def test_an_ellipsis_becomes_a_full_stop_and_no_letter_is_trimmed():
    assert rewrite("See you at the shop on Sunday at 9h...") == f"See you at the shop on Sunday at 9h. {INVITE_EN}"
    assert rewrite("The ride photos are posted on X") == f"The ride photos are posted on X. {INVITE_EN}"


def test_a_code_the_charter_flags_takes_its_clause_and_the_sentence_keeps_its_facts():
    # a promo code is an offer, not an ask: its clause goes, the event it shares a sentence with stays
    text = "The tasting is on Friday at 7pm, quote BRINE at the till."
    out = rewrite(text, flag(text, "quote BRINE at the till", "no_promo_codes"))
    assert out == f"The tasting is on Friday at 7pm. {INVITE_EN}"


def test_a_code_goes_under_any_charter_even_when_no_flag_names_it():
    # no flag at all: the generic promo-code family still finds 'use BRINE10'
    text = "The tasting is on Friday at 7pm, use BRINE10 at the till."
    assert rewrite(text) == f"The tasting is on Friday at 7pm. {INVITE_EN}"


def test_an_ask_to_share_goes_whole_under_any_charter_even_when_no_flag_names_it():
    text = "Share this post with your friends. The market opens at 9h on Saturday."
    assert rewrite(text) == f"The market opens at 9h on Saturday. {INVITE_EN}"


def test_a_date_a_charter_rule_calls_urgent_stays_when_nothing_is_on_offer():
    text = "The repair café stays open until Sunday for every club member."
    assert rewrite(text, flag(text, "until Sunday", "no_urgency")) == f"{text} {INVITE_EN}"


def test_in_a_post_with_an_offer_a_dated_hurry_is_the_offers_deadline_and_goes():
    text = "Jars are 15% off with code BRINE10. Come to the stall until Sunday and taste the new kimchi."
    out = rewrite(text, flag(text, "until Sunday", "urgency"))
    assert out == f"Come to the stall and taste the new kimchi. {INVITE_EN}"


@pytest.mark.parametrize("dash", ["–", "—"])
def test_a_dash_left_at_the_end_by_a_dropped_clause_goes(dash: str):
    text = f"The market opens on Saturday {dash} shop now"
    assert rewrite(text) == f"The market opens on Saturday. {INVITE_EN}"


def test_french_keeps_its_space_before_a_question_mark():
    text = "Qui vient samedi? La sortie part à 9h."
    assert rewrite(text, lang="fr") == f"Qui vient samedi ? La sortie part à 9h. {INVITE_VOUS}"
