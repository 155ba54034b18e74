"""Drift driven by the charter: every typed charter rule becomes a check that cites its clause.

The families below are generic French and English ways of instrumentalising members (asking them to relay
the brand, tag it or friends, contests for reach, promo codes, deadlines and countdowns, superlatives,
shouting, participation gated behind a purchase, asking for personal data). Without a charter rule a family
hit is a hint; with one, it breaks that clause. Explanations are in the post's language, from
`prompts/phrases.<lang>.toml`. Every pattern is linear: literal alternations and bounded gaps.
"""

from __future__ import annotations

import re
from typing import Any, Callable

from copilot.phrases import say
from copilot.textrules import shouted_spans

GAP = r"[^.!?\n]{0,60}?"  # words between a verb and its object, within one sentence

FAMILIES: dict[str, re.Pattern[str]] = {
    "no_share_asks": re.compile(
        r"\b(?:partag(?:e|ez|er)|relay(?:e|ez|er)|republi(?:e|ez)|repost(?:e|ez)?|retweet(?:e|ez)?|lik(?:e|ez)|"
        r"share|reshare|spread the word|boost|upvote|star us|give us a star|leave us a review|laissez-nous un avis|"
        r"abonn(?:e|ez)-(?:toi|vous)|follow us|suivez-nous|invit(?:e|ez) (?:tes|vos) (?:ami|proche)|send (?:them |it )?this|"
        r"pass (?:it|this) on|fai(?:s|tes) (?:tourner|passer))\b"
        + GAP + r"(?:\b(?:post|publication|story|stories|réseaux|reseaux|social|instagram|insta|facebook|tiktok|"
        r"linkedin|twitter|x|github|reddit|hacker news|feed|fil|page|ami|amis|friends|network|partout|everywhere|"
        r"club|group|groupe|voisins|neighbou?rs|entourage|proches|message|it too|them)\b)",
        re.I),
    "no_tag_asks": re.compile(
        r"\b(?:tag(?:ue|uez|gue|guez)?|identifi(?:e|ez)|mention(?:ne|nez)?|@[\w.]{2,40}|"
        r"(?:avec|with|use|utilise[zr]?|ajout(?:e|ez)) (?:le |the |our |notre )?(?:hashtag|#[\w]{2,40}))"
        + GAP + r"(?:\b(?:ami|amis|friends|nous|us|compte|account|hashtag|photo|photos|post|story)\b|#[\w]{2,40}|@[\w.]{2,40})",
        re.I),
    "no_contests_for_reach": re.compile(
        r"\b(?:pour (?:gagner|tenter de gagner|participer)|to (?:win|enter)|chance to win|concours|jeu-concours|"
        r"giveaway|tirage au sort|à gagner|a gagner|win a|gagne[zr]? un)\b", re.I),
    "no_promo_codes": re.compile(
        r"\b(?:code(?: promo)?|promo code|discount code|coupon|voucher|use|utilise[zr]?)\s{0,3}[:«\"“']?\s{0,3}"
        r"(?=[A-Z0-9-]{0,20}\d)[A-Z][A-Z0-9-]{3,20}\b|\b(?:code promo|promo code|discount code|coupon code)\b",
        re.I),
    "no_urgency": re.compile(
        r"\b(?:dernière chance|derniere chance|last chance|dernières heures|dernieres heures|last (?:few )?(?:hours|days)|"
        r"ends? (?:tonight|today|soon|at midnight|sunday|monday|friday)|only until|jusqu'(?:à|a) (?:ce soir|minuit|"
        r"demain|dimanche|lundi|mardi|mercredi|jeudi|vendredi|samedi)|seulement (?:jusqu|aujourd'hui|ce soir)|"
        r"plus que \d{1,3} ?(?:h|heures|jours|places|pièces)|only \d{1,3} (?:left|hours|days|spots)|"
        r"only \d{1,3} (?:[\w-]{1,20} ){1,6}left|il ne (?:nous )?reste (?:plus )?que \d{1,3}|filling up fast|"
        r"selling fast|going fast|almost (?:gone|sold out|full)|once (?:they're|they are|it's|it is) gone|"
        r"partent vite|part vite|se remplit vite|presque complet|bientôt complet|don't leave it (?:too )?late|"
        r"while (?:stocks|supplies) last|dans la limite des stocks|compte à rebours|countdown|hurry|dépêche[zs]?-?(?:toi|vous)?|"
        r"ne tardez pas|don't wait|don't miss|ne ratez pas|ne manquez pas|avant qu'il ne soit trop tard|"
        r"before it's too late|limited time|durée limitée|temps limité|today only|aujourd'hui seulement|ce soir seulement)\b"
        r"|⏳|⌛", re.I),
    "no_superlatives": re.compile(
        r"\b(?:le meilleur|la meilleure|les meilleurs|les meilleures|the best|best ever|meilleur prix|lowest price|"
        r"prix le plus bas|incroyable|unbeatable|imbattable|révolutionnaire|revolutionary|game-?changer|"
        r"(?<!fermeture )(?<!ouverture )(?<!closure )exceptionnel(?:le)?|le plus \w{3,20} d[eu]|the most \w{3,20} in|jamais vu|never seen|insane|unique au monde|world's best|numéro 1|number one|#1)\b", re.I),
    "no_gated_participation": re.compile(
        r"\b(?:réservé(?:e|s|es)? aux (?:clients|acheteurs|abonnés payants|personnes ayant (?:acheté|commandé))|"
        r"réservé(?:e|s|es)? aux (?:personnes |membres )?(?:abonné|client|acheteu|détenteu)\w{0,4}|"
        r"(?:customers|buyers|subscribers|followers|vip[\w ]{0,20}) only|(?:only|exclusively) for (?:our |the )?"
        r"(?:[\w-]{1,20} )?(?:customers|buyers|followers|subscribers|those who (?:bought|follow))|"
        r"open to (?:people|those|anyone) who (?:bought|purchased|follow)|with (?:any|every) purchase|"
        r"dès \d{1,4} ?€ d'achat|pour tout achat|avec tout achat|on purchase of|après (?:achat|commande))\b", re.I),
    "no_personal_data_asks": re.compile(
        r"\b(?:envoie[zs]?|envoy(?:ez|er)|laisse[zs]?|donne[zs]?|indique[zs]?|partage[zs]?|send|share|leave|give|dm|"
        r"drop)(?:-nous|-moi)? (?:[^.!?\n]{0,40}? )?(?:ton |votre |vos |tes |son |sa |your |their )?(?:adresse e-?mail|e-?mail|mail|"
        r"numéro|numero|téléphone|telephone|phone(?: number)?|adresse|address|date de naissance|birthday)\b", re.I),
}


def shouting(text: str) -> list[tuple[int, int]]:
    """Spans of words in capitals used to insist (two or more words of four letters or more)."""
    caps = shouted_spans(text)
    return [(caps[0][0], caps[-1][1])] if len(caps) >= 2 else []


def family_spans(kind: str, text: str) -> list[tuple[int, int]]:
    """Where a text does what a rule type forbids."""
    if kind == "no_shouting":
        return shouting(text)
    pattern = FAMILIES.get(kind)
    return [(m.start(), m.end()) for m in pattern.finditer(text)] if pattern else []


def rule_flags(text: str, rules: list[Any], lang: str, make: Callable[..., Any]) -> list[Any]:
    """One flag per charter rule the text breaks, at its first span, citing the rule's clause. `make(kind,
    severity, span, why, rule)` builds the caller's flag object."""
    out = []
    for rule in rules:
        if rule.type == "factual_announcements_allowed":
            continue
        spans = family_spans(rule.type, text)
        if spans:
            out.append(make(rule.type, "high", spans[0], say(lang, f"drift.{rule.type}"), rule))
    return out
