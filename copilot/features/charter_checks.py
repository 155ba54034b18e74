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
        r"forward|transf[eé]r(?:e|ez)|"
        r"pass (?:it|this) on|fai(?:s|tes) (?:tourner|passer))\b"
        + GAP + r"(?:\b(?:post|publication|story|stories|réseaux|reseaux|social|instagram|insta|facebook|tiktok|"
        r"linkedin|twitter|x|github|reddit|hacker news|feed|fil|page|ami|amis|friends|network|partout|everywhere|"
        r"club|group|groupe|voisins|neighbou?rs|entourage|proches|message|it too|them|colleagues?|collègues?|"
        r"team|équipe|equipe)\b)"
        # a review or a rating is a relay by itself: no object needed
        r"|\b(?:laiss(?:e|es|ez|er)|donn(?:e|ez|er)|mett(?:re|ez)|écri(?:s|vez|re)|ecri(?:s|vez|re))[- ](?:nous |moi )?"
        r"(?:un |une |ton |votre |quelques )?(?:petit |petite )?(?:avis|note|commentaire (?:sur google|positif)|"
        r"\d étoiles|cinq étoiles)\b|\b(?:leave|give|write|drop)(?: us| me)? (?:a |an |your |some )?(?:quick |short |"
        r"honest |good |great )?(?:\d[- ]star |five[- ]star )?(?:review|rating)s?\b|\brate us\b|\bnotez-nous\b|"
        r"\bnote-nous\b",
        re.I),
    "no_tag_asks": re.compile(
        r"\b(?:tag(?:ue|uez|gue|guez)?|identifi(?:e|ez)|mention(?:ne|nez)?|@[\w.]{2,40}|"
        r"(?:avec|with|use|utilise[zr]?|ajout(?:e|ez)) (?:le |the |our |notre )?(?:hashtag|#[\w]{2,40}))"
        + GAP + r"(?:\b(?:ami|amis|amie|amies|friends?|nous|us|compte|account|hashtag|photo|photos|post|story|"
        r"someone|somebody|anyone|people|person|persons|quelqu'un|personne|personnes|neighbou?rs?|voisins?|voisines?|"
        r"colleagues?|collègues?|partners?|partenaires?|mates?|buddy|buddies|potes?|copains?|copines?|proches?|"
        r"family|famille|rival|rivale|binôme|binome)\b|#[\w]{2,40}|@[\w.]{2,40})",
        re.I),
    "no_contests_for_reach": re.compile(
        r"\b(?:pour (?:gagner|tenter de gagner|participer)|to (?:win|enter)|chance to win|concours|jeu-concours|"
        r"giveaway|tirage au sort|à gagner|a gagner|wins? (?:a|an|the)|gagne[zr]? un|remporte(?:ra)? (?:un|une|le|la))\b",
        re.I),
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
        r"stocks? (?:is |are )?limited|limited stock|stock limité|before (?:they're|they are|it's|it is) gone|"
        r"jusqu'(?:à|a) épuisement(?: des stocks)?|avant qu'il n'y en ait plus|act now|"
        r"(?:today|tonight|this weekend|this week)(?: and tomorrow)? only|only (?:today|tonight|this weekend)|"
        r"(?:aujourd'hui|ce soir|ce week-end)(?: et demain)? seulement|"
        r"ne tardez pas|don't wait|don't miss|ne ratez pas|ne manquez pas|avant qu'il ne soit trop tard|"
        r"before it's too late|limited time|durée limitée|temps limité|today only|aujourd'hui seulement|ce soir seulement|"
        r"plus que quelques (?:heures|jours|places)|only a few (?:hours|days|places|spots|seats) left|"
        r"(?:ce|it) (?:sera|will be) trop tard|too late|trop tard|nearly (?:full|gone|sold out)|almost full|"
        r"won't (?:run|be back|come back) (?:again )?until|ne reviendra pas avant|book now|réserve[zs]? vite|"
        r"order now|commande[zs]? vite|now or never|maintenant ou jamais)\b"
        r"|⏳|⌛", re.I),
    "no_superlatives": re.compile(
        r"\b(?:le meilleur|la meilleure|les meilleurs|les meilleures|the best|best ever|meilleur prix|lowest price|"
        r"prix le plus bas|incroyable|unbeatable|imbattable|révolutionnaire|revolutionary|game-?changer|"
        r"(?<!fermeture )(?<!ouverture )(?<!closure )exceptionnel(?:le)?|le plus \w{3,20} d[eu]|the most \w{3,20} in|jamais vu|never seen|insane|unique au monde|world's best|numéro 1|number one|#1|"
        r"the \w{3,20}est(?:, \w{3,20}est)? [\w' -]{0,40}? in (?:the (?:whole |entire )?(?:city|town|country|region|county|world|area)|"
        r"town|france|britain|europe))\b", re.I),
    "no_gated_participation": re.compile(
        r"\b(?:réservé(?:e|s|es)? aux (?:clients|acheteurs|abonnés payants|personnes ayant (?:acheté|commandé|pris|payé|"
        r"souscrit|réservé))|"
        r"réservé(?:e|s|es)? aux (?:personnes |membres )?(?:abonné|client|acheteu|détenteu)\w{0,4}|"
        r"(?:customers|buyers|subscribers|followers|vip[\w ]{0,20}) only|(?:only|exclusively) for (?:our |the )?"
        r"(?:[\w-]{1,20} )?(?:customers|buyers|followers|subscribers|those who (?:bought|follow))|"
        r"open to (?:people|those|anyone) who (?:bought|purchased|follow)|with (?:any|every) purchase|"
        r"dès \d{1,4} ?€ d'achat|pour tout achat|avec tout achat|on purchase of|après (?:achat|commande)|"
        r"(?:for|to) (?:our )?(?:[\w'-]{1,20} ){0,2}(?:members|holders|subscribers|donors|supporters|patrons|backers|"
        r"customers|buyers|tiers?) only|(?:open|available|reserved) to (?:[\w'-]{1,20} ){1,5}only|"
        # a reward for engaging: 'comment YES and follow us, and we'll send you the pack'
        r"(?:comment|like|follow|commente[zs]?|like[zs]?|suis|suivez|abonne[zs]?)\b[^.!?\n]{0,60}?\b(?:and|et|then|puis),? "
        r"(?:we'll|we will|you'll get|you will get|on t'|on vous|nous vous|tu recevras|vous recevrez)|"
        r"only (?:be )?(?:answered|available|open|shared|posted|visible) (?:in|to|for|on) (?:the |our )?"
        r"(?:[\w'-]{1,20} )?(?:members|subscribers|paying|premium|patrons|supporters|donors)\w{0,2}|"
        r"réservée?s? (?:aux|à nos|a nos) (?:[\w'-]{1,20} )?(?:donat(?:eur|rice)s|mécènes|souscripteu\w{1,4}|"
        r"adhérents? (?:premium|payants?|or|gold)|membres? (?:premium|payants?|or|gold|bienfaiteurs))|"
        r"réservée?s? (?:à|a) (?:celles et ceux|ceux et celles|ceux|celles|ceux-là|les personnes) qui ont (?:déjà )?"
        r"(?:acheté|précommandé|commandé|payé|donné|réservé|souscrit|adhéré))\b", re.I),
    "no_personal_data_asks": re.compile(
        r"\b(?:envoie[zs]?|envoy(?:ez|er)|laisse[zs]?|donne[zs]?|indique[zs]?|partage[zs]?|send|share|leave|give|dm|"
        r"drop|comment|post|write|type|put|tell us|dites-nous|dis-nous|écri(?:s|vez)|ecri(?:s|vez)|indiqu(?:e|ez)|"
        r"reply|respond|réponds|répondez|repondez|"
        r"commente[zs]?|précise[zs]?)(?:-nous|-moi)? (?:[^.!?\n]{0,40}? )?(?:ton |votre |vos |tes |son |sa |your |their |"
        r"with your |avec ton |avec votre )?(?:adresse e-?mail|e-?mail|mail|"
        r"numéro|numero|téléphone|telephone|phone(?: number)?|adresse|address|date de naissance|birthday|"
        r"postcode|post code|zip code|code postal|income|salary|salaire|revenus?|household size|rent|loyer|"
        r"date of birth|âge|age|account number|numéro de compte|card number|numéro de carte)\b", re.I),
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
