"""Shout-outs for spotlighted members: a template in the brand's language, or the LLM when configured."""

from __future__ import annotations

from typing import Any

from copilot.llm import LLM, LLMFailure
from copilot.outputs import ShoutoutOut, grounding_problems, register_problems, substance_problems
from copilot.phrases import say
from copilot.privacy import Pseudonyms, fence
from copilot.prompts import render
from copilot.text import detect_language
from copilot.types import Charter

def facts(b: dict[str, Any], lang: str) -> str:
    """The member's contributions as a short clause."""
    from copilot.features.spotlight import contributions

    parts = contributions(b, lang, "shoutout", ("help_given", "solutions", "content_created"))
    return say(lang, "shoutout.facts", parts=", ".join(parts)) if parts else say(lang, "shoutout.no_facts")


def template_shoutout(name: str, breakdown: dict[str, Any], lang: str, register: str | None) -> str:
    """The rules engine's shout-out."""
    return say(lang, "shoutout.template", register=register, name=name, facts=facts(breakdown, lang))


def llm_shoutout(llm: LLM, *, brand: str, brand_name: str, charter: Charter | None, name: str,
                 breakdown: dict[str, Any], evidence: list[dict[str, Any]], lang: str, register: str | None,
                 days: int) -> dict[str, Any]:
    """The LLM's shout-out (member pseudonymised as M1), or a template marked degraded when it fails."""
    pseudonyms = Pseudonyms()
    pseudonyms.alias(name)
    banned = [t.term for t in charter.banned_terms] if charter else []
    prompt = render("spotlight_shoutout", lang, brand=brand_name, register=register or "-",
                    tone=", ".join(t.text for t in charter.tone[:6]) if charter else "-", banned=", ".join(banned) or "-",
                    days=str(days), facts=facts(breakdown, lang).replace(name, "M1"),
                    evidence=fence("\n".join(f"[{e['id']}] {pseudonyms.scrub(e['snippet'])}" for e in evidence)))

    def check(out: ShoutoutOut) -> list[str]:
        problems = grounding_problems([out.text], citations=[], allowed_ids=set(), known_members={"M1"},
                                      source_links=set(), banned_terms=banned, system_prompt=prompt.system)
        problems += substance_problems("text", out.text, min_words=5)
        if "M1" not in out.text:
            problems.append("does not name the member (M1)")
        found = detect_language(out.text.replace("M1", " "), default=lang)
        if found != lang and len(out.text) >= 40:
            problems.append(f"written in '{found}', not '{lang}'")
        return problems + (register_problems(out.text, register) if lang == "fr" else [])

    try:
        res = llm.complete(system=prompt.system, user=prompt.user, schema=ShoutoutOut, check=check, max_tokens=300,
                           meta={"brand": brand, "feature": "spotlight_shoutout"})
    except LLMFailure as exc:
        return {"text": template_shoutout(name, breakdown, lang, register), "engine": "rules", "degraded": True,
                "degraded_reason": f"llm failed: {exc.reason}",
                "usage": {"prompt_tokens": exc.usage.prompt_tokens, "completion_tokens": exc.usage.completion_tokens,
                          "cost": round(exc.usage.cost, 6), "calls": exc.usage.calls}}
    return {"text": pseudonyms.restore(res.value.text), "engine": "llm", "degraded": False, "model": res.model,
            "prompt": {"name": prompt.name, "version": prompt.version, "hash": prompt.hash},
            "usage": {"prompt_tokens": res.usage.prompt_tokens, "completion_tokens": res.usage.completion_tokens,
                      "cost": round(res.usage.cost, 6)}}
