"""The ritual draft endpoint with an instant fake LLM, in-process, at 100,000 messages of history
(target p95 <= 60 ms), and the prompt sizes against the token budget.

Scaling: the sample brand's history (473 messages) is replicated 242 times (~114,000 messages) with fresh ids, each copy shifted
by 30 hours so the newest copies fall in the last weeks; copies reuse the real local embedding of their text
plus small noise (embedding 100k texts would take ~45 minutes here). Queries are embedded for real.
"""

from __future__ import annotations

import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fastapi.testclient import TestClient  # noqa: E402

from bench.common import ROOT, percentiles, replicate_sample, sample_replay_embedder, write_result  # noqa: E402
from copilot.api.app import create_app  # noqa: E402
from copilot.llm import LLMResult, Usage  # noqa: E402
from copilot.runtime import Copilot  # noqa: E402
from copilot.settings import Settings  # noqa: E402

COPIES = 242
NOW = datetime(2026, 11, 27, 12, tzinfo=timezone.utc)


class InstantLLM:
    """Answers at once with a valid, grounded draft; remembers prompt sizes."""

    def __init__(self) -> None:
        self.sizes: list[int] = []

    def complete(self, *, system, user, schema, check=None, meta=None):  # type: ignore[no-untyped-def]
        self.sizes.append((len(system) + len(user)) // 4 + 1)
        value = schema.model_validate({"title": "Jeudi réparation", "body": "Pose ta question, les membres répondent.",
                                       "variants": [], "citations": []})
        assert not (check(value) if check else [])
        return LLMResult(value=value, model="instant", usage=Usage(calls=1))


def main() -> None:
    embedder = sample_replay_embedder()
    llm = InstantLLM()
    with tempfile.TemporaryDirectory() as tmp:
        copilot = Copilot(Settings(env="test", data_dir=Path(tmp)), embedder=embedder, llm=llm)  # type: ignore[call-arg]
        copilot.store.create_brand("big", "Big", "fr")
        copilot.put_charter("big", (ROOT / "knowledge" / "charter.md").read_text(encoding="utf-8"))
        t0 = time.perf_counter()
        replicate_sample(copilot, "big", COPIES, NOW)
        load_s = time.perf_counter() - t0
        copilot.rituals.clock = lambda: NOW
        n = copilot.store.count_messages("big")
        samples = []
        with TestClient(create_app(copilot.settings, copilot=copilot)) as client:
            headers = {"Authorization": f"Bearer {copilot.settings.admin_key.get_secret_value()}"}
            rituals = ["Jeudi réparation", "Le carnet du lundi", "Fil de bienvenue", "Défi du week-end"]
            t = time.perf_counter()
            first = client.post("/v1/brands/big/rituals/drafts", headers=headers, json={"ritual": rituals[0]})
            cold_ms = (time.perf_counter() - t) * 1000
            assert first.status_code == 201, first.text
            for i in range(60):
                t = time.perf_counter()
                r = client.post("/v1/brands/big/rituals/drafts", headers=headers,
                                json={"ritual": rituals[i % len(rituals)], "theme": ["freins", "chaîne", None][i % 3]})
                samples.append((time.perf_counter() - t) * 1000)
                assert r.status_code == 201 and r.json()["engine"] == "llm", r.text
            prompt = r.json()["prompt"]
        copilot.close()
    write_result("rituals", {"messages": n, "scaling": f"sample history x{COPIES}, see module docstring",
                             "load_s": round(load_s, 1), "cold_first_call_ms": round(cold_ms, 1),
                             **percentiles(samples), "target_p95_ms": 60,
                             "prompt_tokens_approx": {"max": max(llm.sizes), "mean": round(sum(llm.sizes) / len(llm.sizes)),
                                                      "budget": prompt["budget_tokens"]}})


if __name__ == "__main__":
    main()
