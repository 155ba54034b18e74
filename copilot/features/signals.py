"""French and English lexical signals read from message text once, when the analytics snapshot is built:
thanks, spontaneous recommendation (advocacy) and tension (conflict or negative sentiment)."""

from __future__ import annotations

import re

THANKS = re.compile(r"(?<!\w)(merci|mercii+|thanks?|thank you|thx|ty|cheers|grazie|gracias|top merci|"
                    r"ça a marché|ca a marche|that fixed it|it worked|problème réglé|probleme regle|solved)(?!\w)", re.I)
ADVOCACY = re.compile(r"(?<!\w)(je (?:vous |te |la |le |les )?recommande|je (?:vous |te )?conseille|recommande[sz]? |"
                      r"i (?:highly )?recommend|recommend(?:ed)? (?:it|this|them)|best (?:brand|bike|shop) ever|"
                      r"j'adore (?:ce|cette|mon|leur)|i love (?:this|my|their)|fan de|big fan|"
                      r"meilleur(?:e)? (?:achat|marque|atelier)|tiens? depuis \d+ ans)(?!\w)", re.I)
TENSION = re.compile(r"(?<!\w)(nul(?:le)?|honte|scandale|arnaque|inadmissible|inacceptable|furieux|furieuse|énervé|"
                     r"marre|déçu(?:e)?|decu|décevant|pire|mensonge|menteur|ridicule|ta gueule|ferme[- ]la|idiot|"
                     r"stupide|débile|connard|scam|terrible|awful|disappointed|disgusting|angry|furious|worst|"
                     r"ridiculous|shut up|stupid|idiot|liar|rip-?off|unacceptable|hate)(?!\w)", re.I)


def flags(text: str) -> tuple[bool, bool, bool]:
    """(thanks, advocacy, tension) of one message."""
    return bool(THANKS.search(text)), bool(ADVOCACY.search(text)), bool(TENSION.search(text))
