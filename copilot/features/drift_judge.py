"""The LLM judge of promotional drift, merged with the rules by a documented policy.

Merge policy:
1. The model's answer is valid only if its verdict and its score agree (the score lies in the verdict's band,
   with a 0.1 tolerance at the edges), every reason is a sentence (three words or more) in the post's language,
   and every flag it adds quotes words that exist in the post. An invalid answer is refused with these reasons
   and retried like any invalid output; if no valid answer comes, the rules answer, marked degraded.
2. Hard evidence from the rules — a high-severity flag (a banned term, a broken charter rule, a quota overrun,
   asking members to advertise …) — cannot be overturned: the merged verdict is never below the rules'
   verdict and the merged score never below the rules' score. The model can only raise it.
3. Otherwise the merged score is the mean of the two scores, and the verdict follows from it.
4. The rules keep their spans and clauses; the model's flags are added at the spans it quoted, and its
   reasons as one `llm_judgement` flag.
"""

from __future__ import annotations

import json
from typing import Any

from copilot.features.drift import DriftResult, Flag, verdict_for
from copilot.llm import LLM, LLMFailure
from copilot.outputs import DriftJudgeOut, substance_problems
from copilot.privacy import Pseudonyms, fence
from copilot.prompts import render
from copilot.text import detect_language
from copilot.types import Charter

BANDS = {"ok": (0.0, 0.4), "watch": (0.4, 0.6), "drift": (0.6, 1.0)}
VERDICT_ORDER = ("ok", "watch", "drift")
TOLERANCE = 0.1


def judge_problems(out: DriftJudgeOut, text: str, lang: str) -> list[str]:
    """Why a judge's answer cannot be merged (empty when it can)."""
    low, high = BANDS[out.verdict]
    problems = []
    if not low - TOLERANCE <= out.score <= high + TOLERANCE:
        problems.append(f"verdict '{out.verdict}' needs a score between {low} and {high}, not {out.score}")
    for i, reason in enumerate(out.reasons):
        problems += substance_problems(f"reason {i + 1}", reason, min_words=3)
        if len(reason) >= 25 and detect_language(reason, default=lang) != lang:
            problems.append(f"reason {i + 1} is not written in '{lang}'")
    problems += [f"flag quotes words absent from the post: '{f.excerpt[:60]}'" for f in out.flags if f.excerpt not in text]
    return problems


def merge(rules: DriftResult, out: DriftJudgeOut, text: str) -> DriftResult:
    """The merged result (see the module docstring)."""
    hard = any(f.severity == "high" for f in rules.flags)
    score = round((rules.score + out.score) / 2, 4)
    verdict = verdict_for(score)
    if hard:
        score = max(score, rules.score)
        verdict = max(verdict_for(score), rules.verdict, key=VERDICT_ORDER.index)
    flags = list(rules.flags)
    for f in out.flags:
        start = text.find(f.excerpt)
        flags.append(Flag(type="llm_judgement", severity="medium", start=start, end=start + len(f.excerpt),
                          excerpt=f.excerpt, explanation=f.explanation))
    if out.reasons:
        flags.append(Flag(type="llm_judgement", severity="high" if out.verdict == "drift" else "medium"
                          if out.verdict == "watch" else "low", start=0, end=len(text), excerpt=text[:200],
                          explanation=" ".join(out.reasons)[:500]))
    return rules.model_copy(update={"score": score, "verdict": verdict, "flags": flags, "engine": "rules+llm"})


class LLMDriftJudge:
    """Asks the model for a verdict with the charter and feed statistics as context, then merges it."""

    def __init__(self, llm: LLM, *, brand_name: str = "the brand"):
        self.llm, self.brand_name = llm, brand_name

    def judge(self, text: str, rules: DriftResult, *, charter: Charter | None, feed: dict[str, Any],
              brand: str = "", started: float | None = None) -> DriftResult:
        """The merged result; raises LLMFailure when the model gives no valid answer."""
        passages = [p for p in (charter.passages if charter else [])
                    if any(p.id == i.passage_id for i in (charter.promotion_policy.rules + charter.tone))][:8] if charter else []
        prompt = render("drift_judge", rules.language, brand=(charter.brand if charter and charter.brand else self.brand_name),
                        quota=str(charter.promotion_policy.max_promotional_share if charter else None),
                        charter=json.dumps([{"id": p.id, "text": p.text[:300]} for p in passages], ensure_ascii=False),
                        feed=json.dumps(feed), rules=json.dumps({"score": rules.score, "verdict": rules.verdict,
                                                                  "flags": sorted({f.type for f in rules.flags})}),
                        text=fence(Pseudonyms().scrub(text)))
        res = self.llm.complete(system=prompt.system, user=prompt.user, schema=DriftJudgeOut,
                                check=lambda out: judge_problems(out, text, rules.language),
                                meta={"brand": brand, "feature": "drift_judge"} if brand else None, max_tokens=400,
                                started=started)
        return merge(rules, res.value, text)


__all__ = ["LLMDriftJudge", "LLMFailure", "judge_problems", "merge"]
