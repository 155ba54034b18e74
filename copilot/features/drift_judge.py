"""The LLM judge of promotional drift, merged with the rules (which keep the spans and clauses)."""

from __future__ import annotations

import json
from typing import Any

from copilot.features.drift import DriftResult, Flag, verdict_for
from copilot.llm import LLM, LLMFailure
from copilot.outputs import DriftJudgeOut
from copilot.privacy import Pseudonyms, fence
from copilot.prompts import render
from copilot.types import Charter


class LLMDriftJudge:
    """Asks the model for a verdict with the charter and feed statistics as context; averages its score with
    the rules' score, so the model can confirm, raise or soften the rules but the spans stay the rules'."""

    def __init__(self, llm: LLM, *, brand_name: str = "the brand"):
        self.llm, self.brand_name = llm, brand_name

    def judge(self, text: str, rules: DriftResult, *, charter: Charter | None, feed: dict[str, Any],
              brand: str = "") -> DriftResult:
        """The merged result; raises LLMFailure when the model cannot answer."""
        passages = [p for p in (charter.passages if charter else [])
                    if any(p.id == i.passage_id for i in (charter.promotion_policy.rules + charter.tone))][:8] if charter else []
        prompt = render("drift_judge", rules.language, brand=(charter.brand if charter and charter.brand else self.brand_name),
                        quota=str(charter.promotion_policy.max_promotional_share if charter else None),
                        charter=json.dumps([{"id": p.id, "text": p.text[:300]} for p in passages], ensure_ascii=False),
                        feed=json.dumps(feed), rules=json.dumps({"score": rules.score, "verdict": rules.verdict,
                                                                  "flags": sorted({f.type for f in rules.flags})}),
                        text=fence(Pseudonyms().scrub(text)))
        res = self.llm.complete(system=prompt.system, user=prompt.user, schema=DriftJudgeOut,
                                meta={"brand": brand, "feature": "drift_judge"} if brand else None)
        out = res.value
        score = round((rules.score + out.score) / 2, 4)
        flags = list(rules.flags)
        if out.reasons:
            flags.append(Flag(type="llm_judgement", severity="high" if out.verdict == "drift" else "medium"
                              if out.verdict == "watch" else "low", start=0, end=len(text), excerpt=text[:200],
                              explanation="; ".join(out.reasons)[:500]))
        return rules.model_copy(update={"score": score, "verdict": verdict_for(score), "flags": flags,
                                        "engine": "rules+llm"})


__all__ = ["LLMDriftJudge", "LLMFailure"]
