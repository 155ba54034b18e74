"""French and English patterns of promotional drift, as data.

Each rule: (flag type, severity, compiled pattern, key of its explanation in `prompts/phrases.<lang>.toml`). Patterns are written from the practice of
community management (instrumentalisation, over-solicitation, urgency tricks), not learned from any dataset.
"""

from __future__ import annotations

import re

Rule = tuple[str, str, "re.Pattern[str]", str]


def _p(*alternatives: str) -> "re.Pattern[str]":
    return re.compile(r"(?<![\w])(?:" + "|".join(alternatives) + r")(?![\w])", re.I | re.U)


HARD_SELL = _p(
    r"ach[eè]te[sz]?(?: vite| maintenant| d[eè]s maintenant)?", r"commandez|commande vite", r"profite[sz]?(?: de)?",
    r"promos?|promotions?|soldes|remise|r[ée]duction|code promo|prix cass[ée]s?|prix imbattables?|bons? plans?",
    r"offre (?:sp[ée]ciale|exclusive|flash|limit[ée]e)|vente flash|gratuit(?:e|s)?(?= (?:pour|d[eè]s|avec))",
    r"buy (?:now|today|it)|order (?:now|today)|shop now|on sale|discount(?:s|ed)?|coupon|promo code|best price",
    r"cheap(?:est)?|free (?:shipping|delivery|gift|trial)|special offer|deal of the day",
    r"\d+\s?%\s?(?:off|de r[ée]duction)|-\s?\d+\s?%", r"(?:£|\$|€)\s?\d+(?:[.,]\d+)?|\d+(?:[.,]\d+)?\s?(?:€|£|euros?)(?! (?:de|of) frais)",
    r"voucher|notre (?:offre|boutique|gamme)|our (?:shop|store|product)",
)
URGENCY = _p(
    r"derni[eè]re chance|derniers? jours?|plus que \d+|d[ée]p[eê]che[sz]?[- ]toi|d[ée]p[eê]chez[- ]vous|vite|foncez",
    r"avant minuit|ce soir minuit|aujourd'hui seulement|ce soir seulement|seulement (?:ce soir|aujourd'hui)|jusqu'[àa] ce soir|stock limit[ée]|quantit[ée]s? limit[ée]es?",
    r"ne (?:ratez|rate) pas|avant (?:rupture|qu'il ne soit trop tard)|places? limit[ée]es?|r[ée]serv[ée]e? aux plus rapides",
    r"last chance|only today|today only|tonight only|ends (?:tonight|today|soon)|limited (?:time|offer|stock)",
    r"while (?:stocks|supplies) last|don'?t miss(?: out)?|act now|urgent(?:ly)?|expires?|before it'?s too late",
    r"only \d{1,3} (?:[\w-]{1,20} ){1,6}left|filling up fast|selling fast|going fast|almost (?:gone|sold out)",
    r"once (?:they're|they are|it's|it is) gone|il ne (?:nous )?reste (?:plus )?que \d{1,3}|partent vite|"
    r"se remplit vite|bient[oô]t complet|don'?t leave it (?:too )?late",
)
ASKS = _p(
    r"partage[sz]?(?= (?:ce|cette|notre|nos|ma|mon|et|avec|autour|[àa] tes))|partagez|likez|like (?:this|my|our|the)|please like|leave a like|abonne[sz]?[- ](?:toi|vous)|abonnez[- ]vous|suive[sz]?[- ]nous|suis[- ]nous",
    r"tague[sz]?|taggue[sz]?|identifie[sz]?|commente[sz]?|laisse[sz]?[- ]nous un avis|note[sz]?[- ]nous|vote[sz]? pour nous",
    r"parle[sz]? de nous|recommande[sz]?[- ]nous|invite[sz]? tes amis|invitez vos amis|5 [ée]toiles|avis",
    r"share (?:this|my|our|it|with)|please share|subscribe|follow (?:us|me)|sub(?:scribe)? (?:to|2)|tag (?:a|your|\d+) friends?|leave a (?:review|comment)",
    r"rate us|vote for (?:us|me)|retweet|spread the word|check (?:it )?out|visit my|watch my|thumbs up",
    r"call (?:now|us)",
)
INSTRUMENTALISATION = _p(
    r"pour gagner|tente[sz]? de gagner|tague[sz]? \d+ amis|identifie[sz]? \d+ amis|concours|jeu[- ]concours|[àa] gagner|giveaway|share to win|tag .{0,20}to win",
    r"chance (?:to|2) win|win (?:a|an|the|\d)|ambassadeurs?|influenceu(?:r|se)s?|deviens notre|become our",
    r"link in bio|lien en bio|mp moi|dm me|pm me|contact me",
)
SELF_PROMOTION = _p(
    r"check (?:it )?out (?:my|our|this|the new|me)|visit (?:my|our)|watch my|go to my|look at my|listen to my",
    r"subscribe|abonne[sz]?[- ](?:toi|vous)|abonnez[- ]vous|thumbs up if|d[ée]couvre[sz]? (?:ma|mon|mes|notre|nos)",
    r"(?:my|our) (?:new )?(?:channel|videos?|song|music|band|remix(?:es)?|page|blog|website|app|playlist)",
    r"ma (?:cha[iî]ne|boutique|page)|mes vid[ée]os|promote (?:my|your)",
)
IGNORES_MEMBERS = _p(
    r"le mieux reste d'acheter|il suffit d'acheter|achetez plut[oô]t|just buy|you should buy|better to buy",
    r"hors sujet ici|pas notre probl[eè]me|r[ée]serv[ée] aux (?:clients|membres) premium|contactez le sav",
    r"not our problem|off[- ]topic here|only for (?:premium|paying) (?:customers|members)|we don'?t answer",
)
GENUINE = _p(
    r"merci|thanks?|thank you|bienvenue|welcome|bravo|d[ée]sol[ée]s?|sorry|on s'est tromp[ée]s|we got it wrong",
    r"rituel|ritual|d[ée]fi|challenge|de retour|back in stock",
    r"vous [ée]tiez nombreux [àa] demander|you asked",
)
RULES: list[Rule] = [
    ("hard_sell", "medium", HARD_SELL, "drift.hard_sell"),
    ("urgency", "high", URGENCY, "drift.urgency"),
    ("instrumentalisation", "high", INSTRUMENTALISATION, "drift.instrumentalisation"),
    ("self_promotion", "medium", SELF_PROMOTION, "drift.self_promotion"),
    ("ignores_members", "high", IGNORES_MEMBERS, "drift.ignores_members"),
]
# An opt-in profile for SMS spam corpora (not brand posts): prize and short-code vocabulary that the public SMS
# spam sets are full of. `copilot eval drift --profile sms` adds it; the product's checks never use it.
SMS_PROFILE: list[Rule] = [
    ("hard_sell", "medium", _p(r"free (?:minutes|texts|phone|camera|download|app|iphone|ipad)",
                               r"money|earn|make \$?\d+|cash prize|prize|won|winner|claim|rewards?"), "drift.sms_vocabulary"),
    ("contact_bait", "medium", _p(r"call (?:now|free|\d)|send \w+ to \d+|txt|text \w+ to|\d{5}"), "drift.sms_short_code"),
    ("over_solicitation", "medium", re.compile(r"\b(?:[Rr]eply|REPLY|[Tt]ext|TEXT|[Ss]end|SEND|[Tt]xt|TXT) [A-Z]{2,}\b"),
     "drift.sms_call_to_action"),
]
SEVERITY_WEIGHT = {"low": 0.2, "medium": 0.45, "high": 0.7}
