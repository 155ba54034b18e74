"""French and English lexical signals computed once per message at ingestion and stored with it: thanks,
spontaneous recommendation (advocacy) and tension (conflict or negative sentiment).

Single words are matched against the message's word set and phrases by substring on the lower-cased text
(a big regex alternation costs ~80 µs a message; this costs a few).
"""

from __future__ import annotations

from copilot.text import words as tokens

THANKS_WORDS = frozenset("merci mercii merciii thanks thank thx ty cheers grazie gracias".split())
THANKS_PHRASES = ("ça a marché", "ca a marche", "that fixed it", "it worked", "problème réglé", "probleme regle")
ADVOCACY_WORDS = frozenset()
ADVOCACY_PHRASES = ("je recommande", "je vous recommande", "je te recommande", "je la recommande", "je le recommande",
                    "je conseille", "je vous conseille", "je te conseille", "recommandez", "i recommend",
                    "i highly recommend", "recommend it", "recommend this", "recommend them", "best brand ever",
                    "best shop ever", "j'adore ce", "j'adore cette", "j'adore mon", "j'adore leur",
                    "i love this", "i love my", "i love their", "fan de", "big fan", "meilleur achat",
                    "meilleure marque", "tient depuis", "tiens depuis")
TENSION_WORDS = frozenset("""nul nulle honte scandale arnaque inadmissible inacceptable furieux furieuse énervé enervé
marre déçu déçue decu décevant pire mensonge menteur ridicule idiot stupide débile connard scam terrible awful
disappointed disgusting angry furious worst ridiculous stupid liar ripoff unacceptable hate""".split())
TENSION_PHRASES = ("ta gueule", "ferme-la", "ferme la", "shut up", "rip-off")


def _hit(lower: str, words: set[str], vocab: frozenset[str], phrases: tuple[str, ...]) -> bool:
    return bool(words & vocab) or any(p in lower for p in phrases)


THANKS, ADVOCACY, TENSION = 1, 2, 4


def bits(text: str) -> int:
    """The signals of a message as a bitmask (stored with the message at ingestion)."""
    t, a, n = flags(text)
    return (THANKS if t else 0) | (ADVOCACY if a else 0) | (TENSION if n else 0)


def flags(text: str) -> tuple[bool, bool, bool]:
    """(thanks, advocacy, tension) of one message."""
    lower = text.lower()
    words = set(tokens(lower))
    return (_hit(lower, words, THANKS_WORDS, THANKS_PHRASES), _hit(lower, words, ADVOCACY_WORDS, ADVOCACY_PHRASES),
            _hit(lower, words, TENSION_WORDS, TENSION_PHRASES))
