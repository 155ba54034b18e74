"""The LLM drift judge through its real entry point, with the fake model under the real client (issue 17, mutation
check): an answer whose flag quotes words the post does not contain is refused, and the next answer is merged at
the span it quotes. Posts and answers are written here."""

from __future__ import annotations

from copilot.features.drift import check_text
from copilot.features.drift_judge import LLMDriftJudge
from tests.fakes import FakeLLM

POST = "Venez goûter le nouveau kimchi au stand samedi, et partagez ce post avec vos amis pour gagner un pot."


def test_a_flag_quoting_words_absent_from_the_post_is_refused_and_the_next_answer_merged():
    rules = check_text(POST, charter=None, with_rewrite=False)
    invented = {"verdict": "drift", "score": 0.8, "reasons": ["Le post promet un cadeau contre un partage."],
                "flags": [{"excerpt": "achetez maintenant", "explanation": "appel à acheter"}]}
    quoted = {"verdict": "drift", "score": 0.8, "reasons": ["Le post promet un cadeau contre un partage."],
              "flags": [{"excerpt": "pour gagner un pot", "explanation": "un cadeau contre un partage"}]}
    llm = FakeLLM(invented, quoted)
    merged = LLMDriftJudge(llm).judge(POST, rules, charter=None, feed={})
    added = [f for f in merged.flags if f.type == "llm_judgement" and f.excerpt != POST[:200]]
    assert [POST[f.start:f.end] for f in added] == ["pour gagner un pot"]
    assert merged.engine == "rules+llm" and not llm.queue  # both answers were asked for


def test_a_watch_verdict_adds_a_medium_judgement_and_the_call_is_recorded_for_the_brand():
    rules = check_text(POST, charter=None, with_rewrite=False)
    recorded: list[dict[str, str]] = []
    watch = {"verdict": "watch", "score": 0.5, "reasons": ["Le post mélange une invitation et un concours."]}
    llm = FakeLLM(watch, recorder=lambda meta, model, usage, ok: recorded.append(meta))
    merged = LLMDriftJudge(llm).judge(POST, rules, charter=None, feed={}, brand="brine")
    judgement = [f for f in merged.flags if f.type == "llm_judgement"]
    assert [(f.severity, f.explanation) for f in judgement] == [
        ("medium", "Le post mélange une invitation et un concours.")]
    assert recorded == [{"brand": "brine", "feature": "drift_judge"}]
