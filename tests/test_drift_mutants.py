"""The drift engine's limits and thresholds, each at its boundary (issue 17, mutation check): the verdict bands,
the promotional quota and posture-change windows, the charter's emoji/exclamation limits and register, which
flags cite which clause, and when a genuine or factual post is softened. Pure functions on a small charter
written here (no sample brand), so they run per mutant in well under a second."""

from __future__ import annotations

import pytest

from copilot.features.charter_checks import family_spans, rule_flags, shouting
from copilot.features.drift import (DRIFT_AT, MIN_QUOTA_POSTS, WATCH_AT, FeedStats, Flag, _clause, charter_flags,
                                    check_text, pattern_flags, quota_flags, score_flags, shouting_flags, verdict_for)
from copilot.types import Charter, CharterRule, Passage, PromotionPolicy, Term

PASSAGES = [Passage(id="p-tone", section="Tone", text="We never shout in capitals at members."),
            Passage(id="p-promo", section="Promotion", text="At most one post in five may promote an offer."),
            Passage(id="p-lexicon", section="Lexicon", text="Never write 'mega deal'."),
            Passage(id="p-emoji", section="Tone", text="Two emoji at most per post."),
            Passage(id="p-bang", section="Tone", text="One exclamation mark at most."),
            Passage(id="p-register", section="Tone", text="On tutoie les membres."),
            Passage(id="p-rules", section="Rules", text="No asking members to share our posts.")]


def charter(**changes: object) -> Charter:
    base = dict(languages=["en"], passages=PASSAGES, banned_terms=[Term(term="mega deal", passage_id="p-lexicon")],
                promotion_policy=PromotionPolicy(max_promotional_share=0.2, passage_id="p-promo"))
    return Charter(**{**base, **changes})  # type: ignore[arg-type]


def flag(kind: str, severity: str = "medium", start: int = 0, end: int = 4) -> Flag:
    return Flag(type=kind, severity=severity, start=start, end=end, excerpt="x" * (end - start), explanation="why")  # type: ignore[arg-type]


PROMO = "Buy now on our shop."  # hard_sell cues, promotional


def test_verdict_bands_meet_at_their_thresholds():
    assert (WATCH_AT, DRIFT_AT) == (0.4, 0.6)
    assert [verdict_for(s) for s in (0.0, 0.3999, 0.4, 0.5999, 0.6, 1.0)] == ["ok", "ok", "watch", "watch", "drift", "drift"]


def test_score_counts_each_type_once_at_its_worst():
    assert score_flags([]) == 0.0
    assert score_flags([flag("urgency", "low"), flag("urgency", "high"), flag("urgency", "medium")]) == 0.7
    assert score_flags([flag("urgency", "high"), flag("hard_sell", "medium")]) == round(1 - 0.3 * 0.55, 4)
    assert score_flags([flag("off_tone", "low")]) == 0.2


def test_promo_share_of_an_empty_feed_is_zero():
    assert FeedStats().promo_share == 0.0
    assert FeedStats(brand_posts=8, promotional_posts=2).promo_share == 0.25


def _quota(feed: FeedStats | None, *, text: str = PROMO, ch: Charter | None = None) -> list[str]:
    flags = [flag("hard_sell", start=0, end=7)]
    return [f.type for f in quota_flags(text, flags, ch if ch is not None else charter(), feed)]


def test_quota_needs_a_promotional_post_a_charter_and_enough_feed():
    feed = FeedStats(brand_posts=10, promotional_posts=5)
    assert _quota(feed) == ["promo_quota"]
    assert quota_flags(PROMO, [flag("off_tone")], charter(), feed) == []
    assert quota_flags(PROMO, [flag("hard_sell")], None, feed) == []
    assert _quota(None) == []
    assert MIN_QUOTA_POSTS == 10
    assert _quota(FeedStats(brand_posts=9, promotional_posts=9, recent_promotional=[True] * 5)) == []


def test_quota_is_exceeded_only_strictly_above_the_share():
    # one in five allowed: 1 promo of 10 then this one -> 2/11 fine; 2 of 14 -> 3/15 = exactly 20 %, fine;
    # 2 of 10 -> 3/11 over.
    assert _quota(FeedStats(brand_posts=10, promotional_posts=1)) == []
    assert _quota(FeedStats(brand_posts=14, promotional_posts=2)) == []
    assert _quota(FeedStats(brand_posts=10, promotional_posts=2)) == ["promo_quota"]
    no_share = charter(promotion_policy=PromotionPolicy(max_promotional_share=None, passage_id="p-promo"))
    assert _quota(FeedStats(brand_posts=10, promotional_posts=10), ch=no_share) == []


def test_quota_flag_points_at_the_first_promotional_cue_and_cites_the_policy():
    flags = [flag("off_tone", "low", 0, 3), flag("hard_sell", "medium", 4, 7), flag("urgency", "high", 9, 12)]
    out = quota_flags(PROMO, flags, charter(), FeedStats(brand_posts=10, promotional_posts=4))
    quota = next(f for f in out if f.type == "promo_quota")
    assert (quota.start, quota.end, quota.severity, quota.excerpt) == (4, 7, "high", PROMO[4:7])
    assert quota.charter_clause is not None and quota.charter_clause.passage_id == "p-promo"
    assert "45%" in quota.explanation and "20%" in quota.explanation  # 5/11 projected, 20 % allowed


@pytest.mark.parametrize("recent, changed", [
    ([True, True, False], True), ([True, True], False), ([True, False, False], False),
    ([True, True, False, False, False, False], False), ([False, True, False, True, False], True)])
def test_posture_change_reads_the_last_five_posts(recent: list[bool], changed: bool):
    feed = FeedStats(brand_posts=40, promotional_posts=2, recent_promotional=recent)
    out = quota_flags(PROMO, [flag("hard_sell", start=0, end=7)], charter(), feed)
    assert ("posture_change" in [f.type for f in out]) is changed
    if changed:
        posture = next(f for f in out if f.type == "posture_change")
        assert posture.severity == "medium" and (posture.start, posture.end) == (0, 7)


def test_clause_of_a_flag():
    assert _clause(None, "p-tone") is None
    assert _clause(charter(), None) is None and _clause(charter(), "") is None
    assert _clause(charter(), "p-tone").text == PASSAGES[0].text  # type: ignore[union-attr]
    assert _clause(charter(), "front-matter").text == "front matter"  # type: ignore[union-attr]


def test_banned_terms_cite_their_clause():
    text = "This is a mega deal for everyone"
    banned = [f for f in charter_flags(text, charter(), "en") if f.type == "banned_term"]
    assert len(banned) == 1 and banned[0].excerpt == "mega deal" and banned[0].severity == "medium"
    assert banned[0].charter_clause is not None and banned[0].charter_clause.passage_id == "p-lexicon"


def test_words_a_preferred_term_replaces_are_flagged_unless_preferred_or_banned():
    lexicon = charter(preferred_terms=[Term(term="members", instead_of=["customers", "users", "mega deal"], passage_id="p-lexicon"),
                                       Term(term="users", passage_id="p-lexicon")])
    out = sorted((f for f in charter_flags("Dear customers and users, a mega deal", lexicon, "en")
                  if f.type in ("replaced_term", "banned_term")), key=lambda f: f.start)
    assert [(f.type, f.excerpt) for f in out] == [("replaced_term", "customers"), ("banned_term", "mega deal")]
    assert out[0].severity == "medium" and out[0].charter_clause.passage_id == "p-lexicon"  # type: ignore[union-attr]
    assert "members" in out[0].explanation


@pytest.mark.parametrize("count, limit, flagged", [(2, 2, False), (3, 2, True), (1, 0, True), (0, 0, False)])
def test_emoji_limit_is_a_maximum(count: int, limit: int, flagged: bool):
    text = "Ride report " + " ".join(["🚀"] * count) + " see you soon"
    out = [f for f in charter_flags(text, charter(emoji_limit=limit), "en") if f.type == "off_tone"]
    assert bool(out) is flagged
    if flagged:
        first_over = text.index("🚀") + 2 * limit  # each extra emoji after the limit, up to the last one
        assert (out[0].start, out[0].end) == (first_over, text.rindex("🚀") + 1)
        assert out[0].severity == "medium" and out[0].charter_clause.passage_id == "p-emoji"  # type: ignore[union-attr]


@pytest.mark.parametrize("count, limit, flagged", [(1, 1, False), (2, 1, True), (1, 0, True)])
def test_exclamation_limit_is_a_maximum(count: int, limit: int, flagged: bool):
    text = "Great ride" + "!" * count + " thanks"
    out = [f for f in charter_flags(text, charter(exclamation_limit=limit), "en") if f.type == "off_tone"]
    assert bool(out) is flagged
    if flagged:
        assert out[0].excerpt == "!" * (count - limit)
        assert out[0].charter_clause.passage_id == "p-bang"  # type: ignore[union-attr]


def test_no_limit_means_no_tone_flag():
    text = "Wow!!!!! 🚀🚀🚀🚀🚀"
    assert [f for f in charter_flags(text, charter(), "en") if f.type == "off_tone"] == []


def test_register_is_checked_in_french_only_and_on_a_majority():
    tu = charter(register="tu", languages=["fr"])
    wrong = "Pouvez-vous nous dire ce que vous pensez ?"
    out = [f for f in charter_flags(wrong, tu, "fr") if f.type == "off_tone"]
    assert len(out) == 1 and out[0].excerpt == "vous" and out[0].severity == "low"
    assert out[0].charter_clause.passage_id == "p-register"  # type: ignore[union-attr]
    assert "tu" in out[0].explanation
    assert [f for f in charter_flags(wrong, tu, "en") if f.type == "off_tone"] == []
    balanced = "Qu'en penses-tu, et que voulez-vous ?"  # one tu, one vous: a group address, not a breach
    assert [f for f in charter_flags(balanced, tu, "fr") if f.type == "off_tone"] == []
    right = "Dis-nous ce que tu penses de ton vélo"
    assert [f for f in charter_flags(right, tu, "fr") if f.type == "off_tone"] == []
    vous = charter(register="vous", languages=["fr"])
    out = [f for f in charter_flags("Dis-nous ce que tu penses", vous, "fr") if f.type == "off_tone"]
    assert len(out) == 1 and out[0].excerpt == "tu"
    assert [f for f in charter_flags(wrong, vous, "fr") if f.type == "off_tone"] == []


def test_shouting_needs_two_words_and_is_medium_only_where_the_charter_forbids_it():
    assert shouting_flags("Great RIDE today", charter()) == []
    text = "Great RIDE today, AMAZING people"
    cited = shouting_flags(text, charter())
    assert len(cited) == 1 and (cited[0].start, cited[0].end) == (text.index("RIDE"), text.index("AMAZING") + 7)
    assert cited[0].severity == "medium" and cited[0].charter_clause.passage_id == "p-tone"  # type: ignore[union-attr]
    quiet = charter(passages=[p for p in PASSAGES if p.id != "p-tone"])
    assert shouting_flags(text, quiet)[0].severity == "low" and shouting_flags(text, quiet)[0].charter_clause is None
    assert shouting_flags(text, None)[0].severity == "low"
    assert shouting("Great RIDE today") == [] and shouting(text) == [(6, 25)]


def test_asks_count_as_over_solicitation_from_two_on():
    one = [f for f in pattern_flags("Please share this with the group.") if f.type == "over_solicitation"]
    two = [f for f in pattern_flags("Please share this, and subscribe.") if f.type == "over_solicitation"]
    three = [f for f in pattern_flags("Please share this, subscribe and rate us.") if f.type == "over_solicitation"]
    assert one == [] and len(two) == 2 and len(three) == 3
    assert {f.severity for f in two} == {"medium"} and {f.severity for f in three} == {"high"}


def test_a_bare_link_weighs_more_than_a_link_in_a_real_post():
    bare = [f for f in pattern_flags("Look: https://example.org/x") if f.type == "unsolicited_link"]
    told = [f for f in pattern_flags("Here are the notes from last week's meeting, with the photos: "
                                     "https://example.org/notes") if f.type == "unsolicited_link"]
    assert [f.severity for f in bare] == ["medium"] and [f.severity for f in told] == ["low"]
    asked = [f for f in pattern_flags("Here are the notes from last week's meeting, please share this and subscribe: "
                                      "https://example.org/notes") if f.type == "unsolicited_link"]
    assert [f.severity for f in asked] == ["medium"]


def test_genuine_thanks_soften_a_lone_price_but_not_pressure():
    thanks = check_text("Thanks to everyone who came! The repair kit is 15 € at the desk.", charter=charter())
    assert {f.type for f in thanks.flags} == {"hard_sell"} and {f.severity for f in thanks.flags} == {"low"}
    pushed = check_text("Thanks everyone, buy now, last chance!", charter=charter())
    assert "high" in {f.severity for f in pushed.flags}
    assert {f.severity for f in pushed.flags if f.type == "hard_sell"} == {"medium"}


def test_factual_announcements_soften_only_a_lone_hard_sell():
    factual = charter(rules=[CharterRule(type="factual_announcements_allowed", text="Announce prices plainly.",
                                         passage_id="p-promo")])
    plain = "The new saddle bag is available at 49 € in the shop."
    assert {f.severity for f in check_text(plain, charter=factual).flags if f.type == "hard_sell"} == {"low"}
    assert {f.severity for f in check_text(plain, charter=charter()).flags if f.type == "hard_sell"} == {"medium"}
    rushed = "The new saddle bag is available at 49 €, last chance!"
    assert {f.severity for f in check_text(rushed, charter=factual).flags if f.type == "hard_sell"} == {"medium"}


def test_check_text_result():
    calm = check_text("Who is riding on Sunday? Tell us your route.", charter=charter())
    assert calm.verdict == "ok" and calm.rewrite is None and not calm.promotional and calm.score == 0.0
    loud = check_text("Buy now, last chance, only today! Tag 3 friends to win.", charter=charter())
    assert loud.verdict == "drift" and loud.promotional and loud.rewrite
    assert [(f.start, f.type) for f in loud.flags] == sorted((f.start, f.type) for f in loud.flags)
    bare = check_text("Buy now, last chance, only today! Tag 3 friends to win.", charter=charter(), with_rewrite=False)
    assert bare.rewrite is None and bare.verdict == "drift"
    assert check_text("Sortie dimanche matin, qui vient ?", charter=charter(languages=["fr"])).language == "fr"


def test_charter_rules_flag_their_first_breach_and_cite_their_clause():
    rules = [CharterRule(type="no_share_asks", text="No asking members to share our posts.", passage_id="p-rules"),
             CharterRule(type="factual_announcements_allowed", text="Prices may be announced.", passage_id="p-promo")]
    text = "Share this post with your friends, and share it on instagram too"
    made = rule_flags(text, rules, "en", lambda *args: args)
    assert len(made) == 1
    kind, severity, span, why, rule = made[0]
    assert (kind, severity, rule.passage_id) == ("no_share_asks", "high", "p-rules")
    assert span[0] == 0 and why
    flags = charter_flags(text, charter(rules=rules[:1]), "en")
    cited = next(f for f in flags if f.type == "no_share_asks")
    assert cited.charter_clause.text == rules[0].text and cited.charter_clause.passage_id == "p-rules"  # type: ignore[union-attr]


def test_family_spans():
    assert family_spans("no_such_rule", "Share this post with friends") == []
    assert family_spans("no_shouting", "a GREAT RIDE") == [(2, 12)]
    assert family_spans("no_shouting", "a GREAT ride") == []
    text = "Use code RIDE20 at checkout"
    assert [text[a:b] for a, b in family_spans("no_promo_codes", text)] == ["code RIDE20"]


def test_shouting_spans_from_the_first_to_the_last_shouted_word():
    text = "A GREAT ride, REALLY, with AMAZING people"
    assert shouting(text) == [(text.index("GREAT"), text.index("AMAZING") + len("AMAZING"))]


def test_the_charter_clause_is_found_whatever_its_case():
    capital = charter(passages=[Passage(id="p-caps", section="Tone", text="No Shouting in posts.")])
    flags = shouting_flags("Great RIDE today, AMAZING people", capital)
    assert flags[0].severity == "medium" and flags[0].charter_clause.passage_id == "p-caps"  # type: ignore[union-attr]


def test_post_length_limit_is_a_maximum_on_the_trimmed_text_and_cites_its_clause():
    limited = charter(max_post_chars=20, passages=[*PASSAGES, Passage(id="p-length", section="Format",
                                                                     text="Posts stay under 20 characters.")],
                      sources={"max_post_chars": "p-length"})
    def length_flags(text: str, ch=limited):
        return [f for f in charter_flags(text, ch, "en") if f.type == "off_tone"]
    assert length_flags("a" * 20) == [] and length_flags("  " + "a" * 20 + "\n\n") == []
    text = "Meet at the club at 6"  # 21 characters
    (over,) = length_flags(text)
    assert (over.start, over.end, over.excerpt, over.severity) == (20, 21, "6", "medium")
    assert over.explanation == "21 characters; the charter allows 20"
    (padded,) = length_flags("    " + text + "\n")  # found by the mutation run: the span skips the padding
    assert (padded.start, padded.end, padded.excerpt) == (24, 25, "6")
    assert over.charter_clause is not None and over.charter_clause.passage_id == "p-length"
    # a limit read from the front matter has no passage: the flag says so
    (front,) = length_flags(text, charter(max_post_chars=20))
    assert front.charter_clause is not None and front.charter_clause.passage_id == "front-matter"
    assert length_flags(text, charter()) == []


def test_rule_and_contact_explanations_are_in_the_posts_language():
    rules = [CharterRule(type="no_share_asks", text="Ne demandez pas aux membres de relayer.", passage_id="p-rules")]
    text = "Partagez ce message à vos amis et appelez le 01 23 45 67 89 pour réserver votre place."
    result = check_text(text, charter=charter(rules=rules, languages=["fr"]))
    said = {f.type: f.explanation for f in result.flags}
    assert result.language == "fr"
    assert said["no_share_asks"] == "demande aux membres de relayer la marque, ce que la charte exclut"
    assert said["contact_bait"] == "demande aux lecteurs d'appeler ou d'écrire à un numéro"


def test_posture_change_says_how_many_recent_posts_were_promotional():
    feed = FeedStats(brand_posts=40, promotional_posts=2, recent_promotional=[False, True, False, True, True, False])
    out = quota_flags(PROMO, [flag("hard_sell", start=0, end=7)], charter(), feed)
    posture = next(f for f in out if f.type == "posture_change")
    assert posture.explanation == "3 of the brand's last 5 posts were already promotional"


def test_a_low_flag_beside_a_price_does_not_stop_a_factual_charter_softening_it():
    factual = charter(rules=[CharterRule(type="factual_announcements_allowed", text="Announce prices plainly.",
                                         passage_id="p-promo")])
    text = "The new saddle bag is available at 49 € in the shop: https://example.org/bag"  # a low link flag too
    flags = check_text(text, charter=factual).flags
    assert {(f.type, f.severity) for f in flags} == {("hard_sell", "low"), ("unsolicited_link", "low")}
    assert ("hard_sell", "medium") in {(f.type, f.severity) for f in check_text(text, charter=charter()).flags}


def test_a_register_set_in_the_front_matter_is_cited_as_such():
    tu = charter(register="tu", languages=["fr"], passages=[p for p in PASSAGES if p.id != "p-register"])
    (off,) = [f for f in charter_flags("Pouvez-vous nous dire ce que vous pensez ?", tu, "fr") if f.type == "off_tone"]
    assert off.charter_clause is not None
    assert (off.charter_clause.passage_id, off.charter_clause.text) == ("front-matter", "front matter")
