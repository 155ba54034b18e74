"""Every sentence the engines write for people comes from prompts/phrases.<lang>.toml (issue 11, point 7)."""

from __future__ import annotations

import ast
import re
import string
from pathlib import Path

import pytest

from copilot.features.drift import check_text
from copilot.phrases import say, table
from copilot.textrules import TU, VOUS, phone_spans, term_hits, terms_used
from copilot.types import Charter, Term

ROOT = Path(__file__).resolve().parent.parent
REGISTER = re.compile(r"_(?:tu|vous)$")


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def _normalised(lang: str) -> dict[str, dict[str, set[str]]]:
    """section -> key (register suffix removed) -> placeholders."""
    out: dict[str, dict[str, set[str]]] = {}
    for section, entries in table(lang).items():
        for key, text in entries.items():
            out.setdefault(section, {}).setdefault(REGISTER.sub("", key), set()).update(_fields(text))
    return out


def test_both_languages_have_the_same_phrases_and_placeholders():
    fr, en = _normalised("fr"), _normalised("en")
    assert fr == en
    for section, entries in table("fr").items():  # a register form never comes alone
        for key in entries:
            if REGISTER.search(key):
                base = REGISTER.sub("", key)
                assert {f"{base}_tu", f"{base}_vous"} <= set(entries), (section, key)


def _keys_used_in_code() -> set[str]:
    used = set()
    for path in (ROOT / "copilot").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "say" and len(node.args) >= 2:
                key = node.args[1]
                if isinstance(key, ast.Constant) and isinstance(key.value, str):
                    used.add(key.value)
                elif isinstance(key, ast.JoinedStr) and isinstance(key.values[0], ast.Constant):
                    used.add(str(key.values[0].value).rstrip(".") + ".*")  # f"drift.{rule.type}": the section exists
    # Keys held as data: the drift patterns' explanations, the typed charter rules, the built-in rituals.
    from copilot.features import drift_rules as R
    from copilot.features.charter_checks import FAMILIES
    from copilot.features.rituals import BUILT_IN

    used |= {key for *_, key in R.RULES + R.SMS_PROFILE} | {f"drift.{k}" for k in FAMILIES} | {"drift.no_shouting"}
    used |= {f"rituals.{k}" for k in BUILT_IN}
    used |= {f"{section}.{k}" for section in ("spotlight", "shoutout")
             for k in ("help_given", "solutions", "content_created")}
    return used


def test_every_key_the_code_uses_exists_in_both_languages():
    used = _keys_used_in_code()
    assert len(used) >= 25, sorted(used)  # the engines' sentences really go through `say`
    for lang in ("fr", "en"):
        phrases = _normalised(lang)
        for key in used:
            section, _, name = key.partition(".")
            assert section in phrases, (lang, key)
            if name != "*":
                assert name in phrases[section], (lang, key)


def test_drift_flags_are_explained_in_the_posts_language():
    charter = Charter(banned_terms=[Term(term="promo", passage_id="p1")], register="tu", emoji_limit=1,
                      languages=["fr"])
    fr = check_text("PROMO DINGUE : achetez vite, dernière chance ce soir !!! 🎉🎉 Partagez et taguez vos amis, "
                    "appelez le 06 12 34 56 78", charter=charter)
    en = check_text("LAST CHANCE to buy now, limited stock!!! Share this and tag 3 friends, call 020 7946 0958",
                    charter=charter.model_copy(update={"languages": ["en"]}))
    assert fr.language == "fr" and en.language == "en"
    fr_texts = {f.explanation for f in fr.flags}
    en_texts = {f.explanation for f in en.flags}
    assert len(fr.flags) >= 5 and len(en.flags) >= 4
    # No explanation is shared across languages, and each reads as its language's phrase table.
    assert not fr_texts & en_texts
    for lang, texts in (("fr", fr_texts), ("en", en_texts)):
        shapes = [re.compile("".join(re.escape(lit) + (".+?" if name else "") for lit, name, _, _ in
                                     string.Formatter().parse(t))) for s in table(lang).values() for t in s.values()]
        assert all(any(shape.fullmatch(e) for shape in shapes) for e in texts), (lang, texts)
    assert {"contact_bait", "banned_term", "off_tone", "urgency"} <= {f.type for f in fr.flags}


def test_one_matcher_for_terms_phones_and_register():
    text = "Une Remisé exceptionnelle, appelez le +33 6 12 34 56 78 avant le 27/11/2026 ; taille 205/55 R16."
    assert [(h.term, text[h.start:h.end]) for h in term_hits(text, ["remise", "", "exceptionnel"])] == \
        [("remise", "Remisé")]
    assert terms_used(text, ["exceptionnelle", "remise", "remise"]) == ["exceptionnelle", "remise"]
    assert [text[a:b] for a, b in phone_spans(text)] == ["+33 6 12 34 56 78"]
    assert TU.search("Dis-toi que c'est facile") and TU.search("t'as vu ?") and not TU.search("Vous avez vu")
    assert VOUS.search("Votre avis") and not VOUS.search("ton avis")


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_register_forms_are_chosen(lang):
    tu = say(lang, "rewrite.invite", register="tu")
    vous = say(lang, "rewrite.invite", register="vous")
    if lang == "fr":
        assert TU.search(tu) and not TU.search(vous) and VOUS.search(vous)
    else:
        assert tu == vous == say(lang, "rewrite.invite")


def test_templates_follow_the_charters_say_x_not_y():
    from copilot.textrules import replace_terms

    assert replace_terms("Reply here: $reply. A reply, Réplique.", {"reply": "answer", "réplique": "retour"}) == \
        "Answer here: $reply. A answer, Retour."
    # Through the rules engine: a charter that says "member", not "user", and "answer", not "reply".
    charter = Charter(preferred_terms=[Term(term="answer", instead_of=["reply"], passage_id="p"),
                                       Term(term="member", instead_of=["user", "member"], passage_id="p")],
                      languages=["en"])
    from copilot.features.rituals import _lexicon

    assert _lexicon(charter) == {"reply": "answer", "user": "member"}  # a word that is also preferred stays


def test_counted_phrases_agree_with_their_count():
    """'1 topics started' and '1 émojis' were shown to people: a count of one (zero too, in French) takes the
    singular form when the catalogue has one."""
    from copilot.phrases import say
    assert say("en", "spotlight.content_created", count=1) == "1 topic started"
    assert say("en", "spotlight.content_created", count=2) == "2 topics started"
    assert say("en", "spotlight.thanks_received", count=1) == "thanked 1 time"
    assert say("fr", "drift.emoji_limit", count=1, limit=0) == "1 émoji ; la charte en permet 0"
    assert say("fr", "spotlight.content_created", count=0) == "0 sujet lancé"
    assert say("en", "spotlight.content_created", count=0) == "0 topics started"
