"""Bounded load test against `copilot serve` on loopback: N concurrent clients for D seconds over search,
drift checks, spotlight, vitality and draft reads; reports throughput, p50/p95/p99 and every non-2xx.

History: the sample brand plus ~114,000 messages (its history replicated 242 times, as in bench/rituals.py),
prepared in-process with real local embeddings of the unique texts plus noise; the server then runs with the
real local embedder, so queries are embedded for real. Targets: zero 5xx, zero errors, p99 < 250 ms.

    python bench/load.py [--clients 4] [--seconds 60]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx  # noqa: E402

from bench.common import ROOT, percentiles, replicate_sample, sample_replay_embedder, write_result  # noqa: E402
from bench.rituals import COPIES, NOW  # noqa: E402

ADMIN = "load-admin-key"


def prepare(data_dir: Path) -> None:
    from copilot.runtime import Copilot
    from copilot.sample import load_sample
    from copilot.settings import Settings

    copilot = Copilot(Settings(env="test", data_dir=data_dir), embedder=sample_replay_embedder())  # type: ignore[call-arg]
    load_sample(copilot)
    replicate_sample(copilot, "roue-libre", COPIES, NOW)
    copilot.retriever.lexical_index("roue-libre", wait=True)
    copilot.close()


def requests_mix(draft_id: str) -> list[tuple[str, str, str, dict]]:
    queries = [json.loads(line)["query"] for line in (ROOT / "tests/data/retrieval_queries.jsonl").read_text().splitlines()]
    queries += ["chaîne qui saute", "freins qui couinent", "pneu tubeless", "bienvenue", "pression pneus ville"]
    b = "/v1/brands/roue-libre"
    mix = [("search", "GET", f"{b}/search", {"params": {"q": q}}) for q in queries]
    mix += [("drift_check", "POST", f"{b}/drift/checks", {"json": {"text": t}}) for t in (
        "PROMO FLASH -30% ce soir seulement, partage et tague 3 amis !!!",
        "Jeudi réparation ce soir à 18h : pose tes questions, les membres répondent aussi.",
        "Petit point stock : les garde-boue sont de retour jeudi, merci pour ta patience.")]
    mix += [("spotlight", "GET", f"{b}/spotlight", {"params": {"window_days": 30}})]
    mix += [("vitality", "GET", f"{b}/vitality", {"params": {"window_days": 28}})]
    mix += [("draft_read", "GET", f"/v1/drafts/{draft_id}", {}), ("draft_list", "GET", f"{b}/drafts", {})]
    return mix


async def client_loop(client: httpx.AsyncClient, mix: list, until: float, samples: dict, errors: list,
                      seed: int) -> None:
    rng = random.Random(seed)
    while time.perf_counter() < until:
        name, method, url, kw = rng.choice(mix)
        t = time.perf_counter()
        try:
            r = await client.request(method, url, **kw)
            status = r.status_code
        except httpx.HTTPError as exc:
            errors.append({"endpoint": name, "error": type(exc).__name__})
            continue
        samples.setdefault(name, []).append((time.perf_counter() - t) * 1000)
        if status >= 300:
            errors.append({"endpoint": name, "status": status, "body": r.text[:200]})


async def run(base: str, clients: int, seconds: float) -> dict:
    headers = {"Authorization": f"Bearer {ADMIN}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30) as client:
        draft = (await client.post("/v1/brands/roue-libre/rituals/drafts", json={"ritual": "Jeudi réparation"})).json()
        mix = requests_mix(draft["id"])
        for name, method, url, kw in mix:  # warm-up: every endpoint once
            await client.request(method, url, **kw)
        samples: dict[str, list[float]] = {}
        errors: list[dict] = []
        started = time.perf_counter()
        until = started + seconds
        await asyncio.gather(*[client_loop(client, mix, until, samples, errors, i) for i in range(clients)])
        elapsed = time.perf_counter() - started
    every = [x for v in samples.values() for x in v]
    return {"clients": clients, "seconds": round(elapsed, 1), "requests": len(every),
            "throughput_rps": round(len(every) / elapsed, 1), "all": percentiles(every),
            "by_endpoint": {k: percentiles(v) for k, v in sorted(samples.items())},
            "errors": len(errors), "server_errors_5xx": sum(1 for e in errors if e.get("status", 0) >= 500),
            "error_examples": errors[:5], "target_p99_ms": 250}


def main() -> None:
    args = argparse.ArgumentParser()
    args.add_argument("--clients", type=int, default=4)
    args.add_argument("--seconds", type=float, default=60)
    opts = args.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        t = time.perf_counter()
        prepare(data)
        prepare_s = time.perf_counter() - t
        port = 18000 + random.randint(0, 999)
        env = {**os.environ, "COPILOT_DATA_DIR": str(data), "COPILOT_ADMIN_KEY": ADMIN, "COPILOT_ENV": "test"}
        server = subprocess.Popen([sys.executable, "-m", "copilot.cli", "serve", "--host", "127.0.0.1", "--port",
                                   str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.time() + 120
            while time.time() < deadline:
                try:
                    if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.5)
            result = asyncio.run(run(base, opts.clients, opts.seconds))
        finally:
            server.terminate()
            server.wait(timeout=30)
    write_result("load", {"history": "sample brand + ~114,000 messages, see module docstring",
                          "prepare_s": round(prepare_s, 1), **result})


if __name__ == "__main__":
    main()
