"""Typed charter rules (prohibited asks, urgency, codes, gates…) and ritual cadences in a charter sentence."""

from __future__ import annotations

import re
from typing import get_args

from copilot.ingest.charter_limits import NEGATION
from copilot.ingest.charter_words import CLAUSE_SEP, NUM, fold, quoted
from copilot.types import CharterRule

RULE_TYPES: tuple[str, ...] = get_args(CharterRule.model_fields["type"].annotation)


# ------------------------------------------------------------------ typed rules

ASK = re.compile(r"\b(?:demand|ask|sollicit|solicit|request|invit|encourag|incit|pousse|exig)\w{0,6}")
SHARE = re.compile(r"\b(?:partag|repartag|share|reshar|repost|retweet|reblog|relay|relai|transf[e]r|forward|upvot|"
                   r"recommand|recommend|epingl|duet)\w{0,6}|\b(?:star|stars|liker)\b|"
                   r"\blike (?:our|us|the|this|my|their)\b|"
                   r"\bpost (?:on|to|about us on) (?:social|your|their|instagram|facebook|tiktok|linkedin|twitter|x)\b|"
                   r"\bpubli\w{0,4} (?:pour nous )?sur (?:les |leurs |vos |tes |ses )?r[ée]seaux|"
                   r"\b(?:leave|write|post|give) (?:us )?(?:a |an )?(?:\w+ )?reviews?\b|\blaisser (?:un |des )?avis\b")
TAG = re.compile(r"\b(?:tag|tagu|tagg|identifi|mention)\w{0,6}|hashtag|mots?-diese|#\w|@\s?\w")
CONTEST = re.compile(r"\b(?:concours|contests?|giveaways?|tirages? au sort|sweepstakes?|raffles?|challenges?|"
                     r"to win|pour gagner|a gagner|in exchange for (?:a |an )?(?:reward|prize|discount|gift)|"
                     r"en echange d'une? (?:recompense|cadeau|reduction|lot))\b")
REACH = re.compile(r"\b(?:follow|abonn|subscri|friends?|amis?|tag|identifi|partag|share|repost|repartag)\w{0,6}")
CODE = re.compile(r"\bcodes?\s+(?:de\s+)?(?:promo|reduction|remise|parrainage|rabais)|\bcoupons?\b|\bvouchers?\b|"
                  r"\b(?:promo\w{0,7}|discount|referral|credit|bonus)\s+(?:or\s+\w{1,12}\s+)?codes?\b")
# Codes kept to another channel ('Discount codes: email newsletter only') are kept out of community posts.
ELSEWHERE_ONLY = re.compile(r"\b(?:only|uniquement|seulement|exclusivement|reserve\w{0,3} a)\b")
OTHER_CHANNEL = re.compile(r"\b(?:newsletters?|e-?mails?|mailing|lettres? d'information|infolettres?|courriels?|"
                           r"in[- ]store|en (?:magasin|boutique|caisse)|checkout)\b")
URGENCY = re.compile(r"\b(?:urgence|urgency|countdowns?|comptes? a rebours|fomo|last[- ]minute|"
                     r"time pressure|pression|pressure|timers?|chrono\w{0,6}|"
                     r"scarcity|rarete|penurie|s'epuis\w{0,4}|expire\w{0,2}|"
                     r"deadline\w{0,8}|hurry|depeche\w{0,3}|limited time|temps limite|pressant\w{0,3}|"
                     r"derniere chance|last chance|last call|dernier appel)\b")
SUPERLATIVE = re.compile(r"\bsuperlati\w{0,4}|\b(?:claim|pretend|present|call|dit|dire|say)\w{0,4}\s"
                         r"(?:\w{1,15}\s){0,4}[«\"“'‘]?\s?(?:the )?(?:the best|number one|le meilleur|la meilleure|les meilleur|"
                         r"best-in-class)|[\"'“«‘]\s?(?:the best|best|no\.? ?1|n° ?1|number one|numero un|top[- ]rated|"
                         r"le meilleur|la meilleure|meilleure?s?|leader|unbeatable|imbattables?)\s?[\"'”»’]")
SHOUT = re.compile(r"\b(?:all[- ]caps|caps lock|caps|majuscules?|capitales|capitals|capital letters|upper[- ]?case)\b")
GATE = re.compile(r"\bkeep\w{0,3}\b[^.;:]{1,60}\bfor\b|\bgard\w{1,4}\b[^.;:]{1,60}\bpour\b|\b(?:reserv\w{0,5}|restrict\w{0,5}|conditionn\w{0,5}|behind|locked|paywall\w{0,2}|requir\w{0,5}|"
                  r"limited to|only (?:for|to)|uniquement aux?|seulement aux?|depend\w{0,4} (?:on|upon|de|d')|"
                  r"subordonn\w{0,5}|conditional on|contingent on)\b")
# What a gate may ask instead of a purchase: an engagement ('held behind a like, a follow or a comment').
ENGAGEMENT = re.compile(r"\b(?:likes?|liking|liker|follows?|following|comments?|commenting|commentaires?|commenter|"
                        r"abonnements?|s'abonner|subscrib\w{0,3}|shares?|sharing|partages?|partager)\b")
PAYERS = re.compile(r"\b(?:achat\w{0,2}|achet\w{0,4}|purchas\w{0,4}|bought|buy\w{0,4}|paid|payant\w{0,2}|paying|"
                    r"premium|pro|accounts?|billets?|tickets?|customers?|clients?|abonne\w{0,2}|subscri\w{0,6}|"
                    r"detenteurs|"
                    r"holders)\b")
OPEN = re.compile(r"\bouverte?s? a (?:tou\w{0,4}|qui(?:conque)?\b)|\bopen to (?:all|everyone|anyone|every|any|whoever)\b|"
                  r"\bfree for (?:all|everyone)\b")
PERSONAL = re.compile(r"\be-?mails?\b|\bcourriels?\b|\bphone\b|\btelephone\w{0,2}|\baddress\w{0,2}|\badresses?\b|"
                      r"\bcoordonnees\b|\bdate (?:of birth|de naissance)\b|\baccount numbers?\b|\bcard details\b|"
                      r"\bnumeros? de carte\b|\b(?:personal|personnelles?) (?:data|information|details|"
                      r"donnees|informations)\b|\b(?:donnees?|informations?|infos?) perso\w{0,9}|"
                      r"\brien de (?:personnel|perso|prive)\b|\bnothing (?:personal|private)\b")
FACT = re.compile(r"\bfactu\w{0,6}|\bfacts?\b|\btel(?:le)?s? quel(?:le)?s?\b|\bas (?:they|it) (?:are|is)\b|\bplainly\b|"
                  r"\bstate (?:them|it)\b|\bplain announcements?\b|\bsobrement\b|\bc'est de l'information\b|"
                  r"\b(?:is|counts as) information\b|\bc'est informer\b")
# An announcement said in so many words to be allowed, even under a heading that forbids.
ALLOWED = re.compile(r"\b(?:(?:is|are) (?:always )?(?:fine|allowed|permitted|welcome|ok)|(?:c'est|est|sont) bienvenue?s?|"
                     r"(?:reste|restent|est|sont)(?: \w{1,10})? (?:permis|autorise)\w{0,2}|"
                     r"(?:c'est|is) de l'information)\b")
ANNOUNCEABLE = re.compile(r"\b(?:prix|prices?|tarifs?|fees|pricing|dates?|horaires?|schedules?|produits?|products?|"
                          r"features?|plans?|releases?|arrivages?|lots?|annonc\w{0,5}|announc\w{0,6}|patch notes)\b")
ANNOUNCE = re.compile(r"\b(?:annonc|announc)\w{0,6}")
PRICE_OR_DATE = re.compile(r"\b(?:prix|prices?|tarifs?|fees|pricing|dates?)\b")


def rules(sentence: str, *, forbidding: bool = False) -> list[str]:
    """Typed rules a sentence states; `forbidding` when its heading or lead-in forbids ('What we never do')."""
    text = fold(sentence)
    found: set[str] = set()
    contest = CONTEST.search(text)
    if forbidding or NEGATION.search(text):
        if ask := ASK.search(text):
            found |= _asks(text, ask.start(), contest.start() if contest else len(text))
        checks = {"no_contests_for_reach": bool(contest and REACH.search(text)), "no_promo_codes": CODE,
                  "no_urgency": URGENCY, "no_superlatives": SUPERLATIVE, "no_shouting": SHOUT,
                  "no_gated_participation": not contest and GATE.search(text)
                  and (PAYERS.search(text) or ENGAGEMENT.search(text))}
        found |= {k for k, v in checks.items() if (v.search(text) if isinstance(v, re.Pattern) else v)}
    if CODE.search(text) and ELSEWHERE_ONLY.search(text) and OTHER_CHANNEL.search(text):
        found.add("no_promo_codes")
    if OPEN.search(text):
        found.add("no_gated_participation")
    if _allows_facts(text, forbidding=forbidding):
        found.add("factual_announcements_allowed")
    return [t for t in RULE_TYPES if t in found]


def _asks(text: str, ask_at: int, contest_at: int) -> set[str]:
    """Share, tag and personal-data asks in the clauses after the verb that asks, before any contest."""
    found, start = set(), ask_at
    for sep in [*CLAUSE_SEP.finditer(text, ask_at), None]:
        end = sep.start() if sep else len(text)
        clause = text[start:end]
        if end <= contest_at:
            found |= {name for name, regex in (("no_share_asks", SHARE), ("no_tag_asks", TAG),
                                              ("no_personal_data_asks", PERSONAL)) if regex.search(clause)}
        start = sep.end() if sep else end
    return found


def _allows_facts(text: str, *, forbidding: bool) -> bool:
    if FACT.search(text) and ANNOUNCEABLE.search(text):
        return True
    announce = ANNOUNCE.search(text)
    if announce and ALLOWED.search(text) and (PRICE_OR_DATE.search(text) or ANNOUNCEABLE.search(text)):
        return True
    return bool(announce and not forbidding and PRICE_OR_DATE.search(text)
                and not NEGATION.search(text, max(0, announce.start() - 25), announce.start()))


# ------------------------------------------------------------------ ritual cadences

DAYS = (r"(?:lundi|mardi|mercredi|jeudi|vendredi|samedi|dimanche|monday|tuesday|wednesday|thursday|friday|saturday|"
        r"sunday)s?")
MONTHS = (r"(?:janvier|fevrier|mars|avril|mai|juin|juillet|aout|septembre|octobre|novembre|decembre|january|february|"
          r"march|april|may|june|july|august|september|october|november|december)")
CLOCK = r"\d{1,2}(?:[:h]\d{2})?(?:\s?(?:h|am|pm|utc|cet|cest|gmt|et|pt)\b)?"
# A cadence opens with a head: complete by itself ('weekly', 'le mardi', 'after each'), or open ('every', 'once')
# and then needing a time word ('every Friday', 'once a month'; 'chaque participant' is no cadence).
HEAD_ALONE = (rf"(?:weekly|monthly|daily|nightly|yearly|annually|quarterly|biweekly|fortnightly|hebdomadaire|"
              rf"mensuel\w{{0,3}}|quotidien\w{{0,3}}|annuel\w{{0,3}}|trimestriel\w{{0,3}}|un {DAYS} sur deux|"
              rf"(?:le|les|on) {DAYS}|(?:before|after|avant|apres) (?:each|every|chaque))")
HEAD = (rf"(?:{HEAD_ALONE}|chaque|tous les|toutes les|every|each|once|twice|(?:{NUM}) fois (?:par|a|l'|chaque)|"
        rf"(?:{NUM}) times (?:a|per|each|every)|(?:le|la|the) (?:premier|premiere|dernier|derniere|deuxieme|first|"
        rf"last|second)|first|last)")
HEAD_ALONE_RE = re.compile(rf"{HEAD_ALONE}\b")
TIME_WORD = re.compile(rf"\b(?:{DAYS}|{MONTHS}|(?:matin|soir|soiree|nuit|apres-midi|morning|evening|night|afternoon|"
                       rf"jour|day|semaine|week|mois|month|an|annee|year|trimestre|quarter|saison|season|week-end|"
                       rf"weekend)s?)\b|\d")
TOKEN = (rf"(?:{DAYS}|{MONTHS}|{CLOCK}|(?:matin|soir|soiree|nuit|apres-midi|morning|evening|night|afternoon)s?|"
         rf"(?:jour|day|semaine|week|mois|month|an|annee|year|trimestre|quarter|saison|season|week-end|weekend)s?|"
         rf"premier|premiere|dernier|derniere|deuxieme|second|first|last|other|autre|business|ouvre|"
         rf"de|du|des|d'|la|le|les|l'|of|the|a|each|every|chaque|tous|toutes|at|on|in|en|sur|par|per|to)")
PHRASE_RE = re.compile(rf"\b{HEAD}(?:\s{{1,3}}{TOKEN}\b){{0,8}}(?![\w-])")  # not 'daily-digest'
CONTINUATION = re.compile(rf"\b(?:{HEAD}|{DAYS}|{MONTHS})\b|(?<![\w:])\d{{1,2}}(?::\d{{2}}|\s?h\b|\s?[ap]m\b)")
TRAILING = re.compile(r"(?:\s+(?:de|du|des|d'|la|le|les|l'|of|the|a|each|every|chaque|at|on|in|en|sur|par|per|to))+$")
SEGMENT_END = re.compile(r":\s|\s:|\.(?:\s|$)|\s[—–]\s|\s/\s|;")


def cadence_phrase(text: str) -> tuple[int, int] | None:
    """(start, end) of the first time phrase in a text ('chaque mardi soir', 'every morning at 8 am')."""
    folded = fold(text)
    for m in PHRASE_RE.finditer(folded):
        if HEAD_ALONE_RE.match(folded, m.start()) or TIME_WORD.search(folded, m.start(), m.end()):
            trailing = TRAILING.search(folded, m.start(), m.end())
            return m.start(), trailing.start() if trailing else m.end()
    return None


def leading_cadence(text: str) -> str | None:
    """The cadence a ritual's description opens with ('monthly, first Monday: …' -> 'monthly, first Monday')."""
    body = text.lstrip(" ,—–:-(")
    folded = fold(body)
    end = m.start() if (m := SEGMENT_END.search(folded)) else len(body)
    parts: list[str] = []
    for part in body[:end].split(","):
        piece = without_parentheses(part).strip(" )")
        span = cadence_phrase(piece)
        if not parts and (not span or span[0] != 0):
            return None
        if parts and not CONTINUATION.search(fold(piece)):
            break
        if span and span[0] == 0 and len(piece.split()) > 5:  # 'every Sunday we meet …' -> 'every Sunday'
            parts.append(piece[: span[1]])
            break
        parts.append(piece)
    return ", ".join(p for p in parts if p) or None


def without_parentheses(text: str) -> str:
    """The text with each '(…)' removed (up to the first ')' after it), in one pass."""
    out, pos = [], 0
    while (start := text.find("(", pos)) != -1 and (end := text.find(")", start)) != -1:
        out.append(text[pos:start])
        pos = end + 1
    return "".join(out) + text[pos:]


def prose_ritual(sentence: str) -> tuple[str, str] | None:
    """(name, cadence) of a ritual told in prose: a capitalised quoted name and a time phrase in one sentence."""
    span = cadence_phrase(sentence)
    names = [q for q in quoted(sentence) if q.term[:1].isupper()]
    if not span or not names:
        return None
    name = min(names, key=lambda q: min(abs(q.start - span[1]), abs(span[0] - q.end)))
    return name.term, sentence[span[0]: span[1]]
