"""Two failure classes an outside tester hit, reproduced on a small beekeeping club written here (issue 14):

- a query word's exact form held by one message, while Snowball folds it with a family of commoner words
  ('nourrissement' with 'nourrir', 'nourri', 'nourries'): the one message holding the word itself fell out of the
  top 10 behind every message about feeding;
- short courtesy messages ("Merci, c'est parfait.") that an embedder places near any query filled the list behind the
  messages that hold every word of the query, with no word of it themselves.

The first is checked with the deterministic test embedder (it is the keyword side's doing), the second with the real
local embedder, whose similarities put those messages above the relative floor."""

from datetime import datetime, timedelta, timezone

import pytest

from copilot.fusion import Ranking, with_evidence
from copilot.lexical import LexicalResult, exact_pattern
from copilot.runtime import Copilot
from copilot.types import MessageRecord

CLUB = [
    ("n1", "Pour le nourrissement d'hiver, je pose un pain de candi sur le couvre-cadres début décembre.", "answer"),
    ("f1", "Faut-il nourrir les abeilles au sirop en septembre ?", "question"),
    ("f2", "J'ai nourri mes ruches au sirop 50/50 après la récolte.", "comment"),
    ("f3", "Mes colonies sont faibles cette année, je les ai nourries deux fois.", "comment"),
    ("f4", "Les colonies qui passent l'hiver ont besoin de réserves suffisantes.", "post"),
    ("f5", "Hiver doux : les colonies consomment plus, surveillez le poids des ruches.", "post"),
    ("f6", "Combien de kilos de miel laisser aux colonies pour l'hiver ?", "question"),
    ("f7", "On peut nourrir au sirop lourd jusqu'à mi-octobre.", "answer"),
    ("g1", "J'ai nourri mes colonies tout l'hiver, elles sont sorties fortes.", "comment"),
    ("g2", "Nourrir les colonies en plein hiver, c'est risqué ou pas ?", "question"),
    ("g3", "Cet hiver j'ai dû nourrir deux colonies sur cinq.", "comment"),
    ("g4", "Les colonies nourries en hiver démarrent plus vite au printemps.", "post"),
    ("g5", "Une colonie mal nourrie avant l'hiver risque la famine.", "post"),
    ("g6", "Je nourris mes colonies une dernière fois avant l'hiver.", "comment"),
    ("g7", "Faut-il nourrir une colonie orpheline en hiver ?", "question"),
    ("g8", "Les colonies que j'ai nourries cet hiver ont toutes survécu.", "comment"),
    ("g9", "Hiver : ne pas ouvrir les ruches, mais on peut nourrir les colonies par le dessus.", "post"),
    ("e1", "Le club possède un extracteur radial que les membres peuvent emprunter.", "post"),
    ("e2", "Quelqu'un pourrait me prêter son extracteur le week-end prochain ?", "question"),
    ("t1", "Merci beaucoup !", "comment"),
    ("t2", "Super, merci à toi.", "comment"),
    ("t3", "Merci, c'est parfait.", "comment"),
    ("t4", "Génial, merci pour l'info !", "comment"),
    ("v1", "Varroa : traitement à l'acide oxalique en hiver, hors couvain.", "post"),
    ("r1", "Récolte de miel de printemps ce samedi au rucher école.", "post"),
    ("s1", "Essaimage précoce cette année, pensez à poser des ruchettes pièges.", "post"),
]


def ingest_club(runtime: Copilot) -> None:
    start = datetime(2026, 3, 1, tzinfo=timezone.utc)
    runtime.store.create_brand("rucher", "Rucher", "fr")
    runtime.ingestor.ingest("rucher", [MessageRecord(source_id=i, author=f"u{n % 5}", kind=kind, text=text, lang="fr",
                                                     created_at=start + timedelta(hours=n))
                                       for n, (i, text, kind) in enumerate(CLUB)])


def test_the_one_message_holding_a_rare_exact_word_is_not_drowned_by_its_stem_family(copilot: Copilot):
    ingest_club(copilot)
    query = "nourrissement des colonies en hiver"
    pool = copilot.retriever.candidates("rucher", query, depth=40, filters={})
    share = {pool.rows[pool.groups[k][0]].source_id: v for k, v in pool.share.items()}
    # Every g* message holds a stem of each word ('nourr', 'colon', 'hiv'); only n1 holds 'nourrissement' itself.
    assert max(share, key=share.__getitem__) == "n1" and share["n1"] > share["g2"] + 0.15
    assert "n1" in [h.id for h in copilot.retriever.search("rucher", query, limit=10)][:3]


def test_an_exact_form_counts_only_where_it_tells_messages_apart():
    result = LexicalResult(weights={"colonies": 1.0, "nourrissement": 1.0}, df={"colonies": 8, "nourrissement": 8},
                           docs=100)
    plural = result.exact_shares({"a": (("colonies",), "une colonie"), "b": (("colonies",), "des colonies")})
    assert plural["a"] == plural["b"] == pytest.approx(0.5)  # singular or plural: the same word, the same share
    family = result.exact_shares({"a": (("nourrissement",), "le nourrissement"), "b": (("nourrissement",), "nourrir"),
                                  "c": (("nourrissement",), "nourrie")})
    assert family["a"] > 0.5 > family["b"] == family["c"]  # the exact word is rarer than its family: worth more
    assert exact_pattern("prêt").search("un PRET") and not exact_pattern("prêt").search("prêter")


def test_hits_without_a_query_word_must_be_as_close_as_the_complete_matches():
    lex = Ranking(["e2", "e1"], [2.0, 1.0], norm=[1.0, 0.45])
    den = Ranking(["e2", "e1", "t3", "s1"], [0.65, 0.53, 0.41, 0.20], norm=[1.0, 0.73, 0.47, 0.0])
    fused = [("e2", 1.4), ("e1", 0.9), ("t3", 0.4), ("s1", 0.0)]
    assert [k for k, _ in with_evidence(fused, lex, den, words=2)] == ["e2", "e1"]
    assert [k for k, _ in with_evidence(fused, lex, den)] == ["e2", "e1", "t3"]  # no anchor: the relative floor
    partial = Ranking(["e1"], [1.0], norm=[0.45])  # no hit holds every word: nothing to anchor on
    assert [k for k, _ in with_evidence(fused, partial, den, words=2)] == ["e2", "e1", "t3"]


@pytest.fixture(scope="module")
def real(tmp_path_factory) -> Copilot:
    from copilot.embed import LocalMiniLM
    from tests.conftest import fresh_settings

    runtime = Copilot(fresh_settings(tmp_path_factory.mktemp("rucher")), embedder=LocalMiniLM(batch_size=32))
    ingest_club(runtime)
    yield runtime
    runtime.close()


def test_courtesy_messages_do_not_fill_a_query_the_keywords_answered(real: Copilot):
    hits = real.retriever.search("rucher", "prêt d'extracteur", limit=10)
    assert [h.id for h in hits][:2] == ["e2", "e1"]
    assert all(h.matched_terms for h in hits)  # nothing shown without a word of the query…
    everything = type(real.retriever)(real.store, real.index, real.embedder, real.keywords, floor=False)
    dense_only = [h.id for h in everything.search("rucher", "prêt d'extracteur", limit=10) if not h.matched_terms]
    assert {"t3", "t4"} & set(dense_only[:4])  # …though the embedder ranks thank-yous right behind them


def test_the_real_embedder_shows_the_rare_exact_word_too(real: Copilot):
    assert "n1" in [h.id for h in real.retriever.search("rucher", "nourrissement des colonies en hiver", limit=5)]
