"""The judge merge policy (issue 13): hard evidence from the rules stands, a model's verdict and score must
agree, its flags must quote the post, and its explanations are sentences in the post's language."""

from copilot.embed import HashEmbedder
from copilot.features.drift import check_text
from copilot.features.drift_judge import judge_problems, merge
from copilot.outputs import DriftJudgeOut
from copilot.runtime import Copilot
from tests.fakes import FakeLLM

HARD = "Partage ce post et tague 3 amis pour gagner un bon d'achat, offre valable ce soir seulement !"
CLEAN = "Merci à celles et ceux qui ont répondu aux questions des nouveaux cette semaine, c'était précieux."


def test_the_model_cannot_overturn_hard_evidence():
    rules = check_text(HARD, charter=None, with_rewrite=False)
    assert rules.verdict == "drift" and any(f.severity == "high" for f in rules.flags)
    lenient = DriftJudgeOut(verdict="ok", score=0.05, reasons=["Le message reste amical et clair pour les membres."])
    merged = merge(rules, lenient, HARD)
    assert merged.verdict == "drift" and merged.score >= rules.score


def test_without_hard_evidence_the_scores_are_averaged():
    rules = check_text(CLEAN, charter=None, with_rewrite=False)
    assert rules.verdict == "ok" and not any(f.severity == "high" for f in rules.flags)
    severe = DriftJudgeOut(verdict="drift", score=0.9, reasons=["Le message insiste lourdement sur les membres."])
    merged = merge(rules, severe, CLEAN)
    assert merged.score == round((rules.score + 0.9) / 2, 4) and merged.verdict in ("watch", "drift")


def test_inconsistent_or_foreign_or_made_up_answers_are_refused():
    assert judge_problems(DriftJudgeOut(verdict="drift", score=0.02), HARD, "fr")
    assert judge_problems(DriftJudgeOut(verdict="ok", score=1.0), CLEAN, "fr")
    assert any("word(s)" in p for p in judge_problems(DriftJudgeOut(verdict="ok", score=0.1, reasons=["1; 2; 3"]),
                                                    CLEAN, "fr"))
    english = DriftJudgeOut(verdict="ok", score=0.1, reasons=["This post only thanks the members who helped others."])
    assert any("not written in 'fr'" in p for p in judge_problems(english, CLEAN, "fr"))
    invented = DriftJudgeOut(verdict="watch", score=0.5, flags=[{"excerpt": "achetez maintenant", "explanation": "x"}])
    assert any("absent from the post" in p for p in judge_problems(invented, CLEAN, "fr"))
    good = DriftJudgeOut(verdict="drift", score=0.8, reasons=["Le post demande aux membres de faire de la publicité."],
                         flags=[{"excerpt": "tague 3 amis", "explanation": "demande de tagguer des amis"}])
    assert judge_problems(good, HARD, "fr") == []
    merged = merge(check_text(HARD, charter=None, with_rewrite=False), good, HARD)
    quoted = next(f for f in merged.flags if f.type == "llm_judgement" and f.excerpt == "tague 3 amis")
    assert HARD[quoted.start:quoted.end] == "tague 3 amis"


def test_an_inconsistent_model_leaves_the_rules_in_charge(settings):
    c = Copilot(settings, embedder=HashEmbedder(), llm=FakeLLM(*[{"verdict": "drift", "score": 0.02, "reasons": []}] * 3))
    c.store.create_brand("acme", "Acme", "fr")
    out = c.drift.check("acme", HARD)
    assert out["engine"] == "rules" and out["degraded"] and out["verdict"] == "drift"
    assert "verdict 'drift' needs a score between 0.6 and 1.0" in out["degraded_reason"]
    c.close()
