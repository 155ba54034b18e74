"""The LLM shout-out, called directly with the fake model under the real client (issue 17, mutation check): what
the model is told, which answers are refused and why, and what the result records. Members, charters and answers
are written here; no sample brand."""

from __future__ import annotations

import hashlib
from typing import Any

from copilot.features.shoutout import llm_shoutout, template_shoutout
from copilot.types import Charter
from tests.fakes import FakeLLM

ZOE = {"help_given": 4.2, "solutions": 2, "content_created": 0}
EVIDENCE = [{"id": "m1", "snippet": "Zoé: règle la butée du dérailleur d'un quart de tour"}]


class RecordingLLM(FakeLLM):
    """The fake model, keeping every message list the provider received (retries included)."""

    def __init__(self, *outputs: Any, **kwargs: Any):
        super().__init__(*outputs, **kwargs)
        self.sent: list[list[dict[str, str]]] = []

    def _provider(self, **request: Any) -> Any:
        self.sent.append(request["messages"])
        return super()._provider(**request)


def shout(llm: FakeLLM, *, lang: str = "fr", charter: Charter | None = None, register: str | None = None,
          breakdown: dict[str, Any] = ZOE) -> dict[str, Any]:
    return llm_shoutout(llm, brand="velo", brand_name="Vélo Club", charter=charter, name="Zoé", breakdown=breakdown,
                        evidence=EVIDENCE, lang=lang, register=register, days=30)


def test_the_model_is_told_the_charters_banned_words():
    charter = Charter(banned_terms=[{"term": "superfood", "passage_id": "p1"}, {"term": "client", "passage_id": "p1"}])
    llm = FakeLLM({"text": "Merci M1 pour tes quatre réponses et tes deux solutions sur les dérailleurs."})
    shout(llm, charter=charter)
    sent = llm.calls[0]["system"] + llm.calls[0]["user"]
    assert "superfood" in sent and "client" in sent


def test_an_answer_without_the_member_is_refused_with_the_reason_and_the_next_one_used():
    llm = RecordingLLM({"text": "Merci pour toutes ces réponses sur les dérailleurs ce mois-ci, bravo."},
                       {"text": "Merci M1 pour tes réponses sur les dérailleurs ce mois-ci, bravo."})
    out = shout(llm)
    assert out["engine"] == "llm" and out["text"] == "Merci Zoé pour tes réponses sur les dérailleurs ce mois-ci, bravo."
    feedback = llm.sent[1][-1]["content"]
    assert "M1" in feedback and "name" in feedback.lower()  # the model is told which token it left out


def test_an_answer_in_the_wrong_language_is_refused_and_the_next_one_used():
    llm = RecordingLLM({"text": "Thanks M1 for your four answers about derailleurs this month, well done."},
                       {"text": "Merci M1 pour tes quatre réponses sur les dérailleurs ce mois-ci."})
    out = shout(llm)
    assert out["text"] == "Merci Zoé pour tes quatre réponses sur les dérailleurs ce mois-ci."
    assert "'en'" in llm.sent[1][-1]["content"] and "'fr'" in llm.sent[1][-1]["content"]


def test_a_vous_charter_refuses_tu_and_a_tu_charter_accepts_it():
    tu = {"text": "Merci M1, tes réponses sur les dérailleurs ont aidé tout le club ce mois-ci."}
    vous = {"text": "Merci M1, ses réponses sur les dérailleurs ont aidé tout le club ce mois-ci."}
    refused = RecordingLLM(tu, vous)
    assert shout(refused, register="vous")["text"] == "Merci Zoé, ses réponses sur les dérailleurs ont aidé tout le club ce mois-ci."
    assert len(refused.sent) == 2
    accepted = RecordingLLM(tu)
    assert shout(accepted, register="tu")["text"].startswith("Merci Zoé, tes réponses") and len(accepted.sent) == 1


def test_a_failed_model_gives_the_template_and_says_what_it_cost():
    out = shout(FakeLLM(TimeoutError("down"), TimeoutError("down"), TimeoutError("down")), register="tu")
    assert out["engine"] == "rules" and out["degraded"] and out["text"] == template_shoutout("Zoé", ZOE, "fr", "tu")
    assert out["degraded_reason"].startswith("llm failed: ") and "down" in out["degraded_reason"]
    assert out["usage"]["calls"] == 3 and out["usage"]["cost"] == 0  # three attempts, none answered


def test_a_model_answer_records_its_prompt_and_tokens():
    llm = FakeLLM({"text": "Merci M1 pour tes quatre réponses et tes deux solutions sur les dérailleurs."})
    out = shout(llm)
    sent = llm.calls[0]
    assert out["prompt"]["name"] == "spotlight_shoutout"
    assert out["prompt"]["hash"] == hashlib.sha256(f"{sent['system']}\x1e{sent['user']}".encode()).hexdigest()
    assert out["usage"]["prompt_tokens"] > 0 and out["usage"]["completion_tokens"] > 0


def test_a_member_with_nothing_to_count_is_thanked_in_the_brands_language():
    nothing = {"help_given": 0.2, "solutions": 0, "content_created": 0}
    text = template_shoutout("Zoé", nothing, "fr", "vous")
    assert text.startswith("Un grand merci à Zoé ! Ces dernières semaines : une présence qui a compté.")


def test_a_priced_models_shout_out_reports_its_cost_unrounded_away():
    # gpt-4o-mini at $0.15 / $0.60 per million tokens, 10 + 20 tokens from the fake: about $0.0000135, which a
    # whole-dollar rounding would report as 0
    llm = FakeLLM({"text": "Merci M1 pour tes quatre réponses et tes deux solutions sur les dérailleurs."})
    llm.models = ["openai/gpt-4o-mini"]
    out = shout(llm)
    assert 0.00001 <= out["usage"]["cost"] <= 0.00002
