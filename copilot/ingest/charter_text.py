"""What a charter's sentences say: limits, promotion share, posting rate, register, word bans, term pairs, typed
rules and ritual cadences, in French and English.

Each reader takes plain text (a sentence, a list item, a table row, a "key: value" line from YAML or JSON) and
returns what it states; `charter.py` decides where the text came from and which passage it cites. Patterns describe
classes of phrasing (a quantifier next to a subject, a ban verb before a list, a contrast between two quoted
terms), never one charter's sentence. Text is first folded to lower-case unaccented letters of the same length,
so patterns are written once and positions still point into the original. Every pattern has bounded repeats
only and runs in time linear in its input.

The readers live in four modules by concern: `charter_words` (folding, numbers, sentences, quotes),
`charter_limits` (limits, share, posting rate, length, register), `charter_terms` (word bans and term pairs) and
`charter_rules` (typed rules and ritual cadences). This module is their one import point.
"""

from copilot.ingest.charter_limits import *  # noqa: F401,F403
from copilot.ingest.charter_rules import *  # noqa: F401,F403
from copilot.ingest.charter_terms import *  # noqa: F401,F403
from copilot.ingest.charter_words import *  # noqa: F401,F403
