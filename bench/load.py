"""Bounded load test against `copilot serve` on loopback: N concurrent clients over search, drift checks,
spotlight, vitality and draft reads, first on a quiet community for D seconds, then for D seconds while a writer
posts one message every 100 ms through the batch endpoint (every fourth write also adds reactions to an earlier
message); reports both phases side by side per endpoint, the writes' own latency, and keyword freshness (from a
write's acknowledgement to the first search that finds its unique word, one write in five).

History: the sample brand plus ~114,000 messages (its history replicated 242 times, as in bench/rituals.py),
prepared in-process with real local embeddings of the unique texts plus noise; the server then runs with the
real local embedder, so queries and live messages are embedded for real. Targets: zero 5xx, zero errors,
p99 < 250 ms quiet; live p95 <= 1.5 x quiet p95 per endpoint; keyword freshness p95 <= 1 s.

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
from datetime import datetime, timezone
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
    copilot.snapshots.get("roue-libre")
    copilot.close()  # saves the analytics snapshot: the server starts warm


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


def live_message(i: int, reactions: dict[str, int] | None = None) -> dict:
    return {"source_id": f"live-{i}", "author": f"live-member-{i % 30}", "kind": "question", "channel": "atelier",
            "created_at": datetime.now(timezone.utc).isoformat(), "reactions": reactions or {},
            "text": f"Question en direct numéro {i} : ma roue voile après la sortie, marqueur zq{i}x"}


async def probe(client: httpx.AsyncClient, i: int, acked: float, stats: dict) -> None:
    """Search for message i's unique word every 25 ms until it is found (keyword freshness after the ack)."""
    while time.perf_counter() - acked < 10:
        hits = (await client.get("/v1/brands/roue-libre/search",
                                 params={"q": f"zq{i}x", "mode": "lexical", "limit": 3})).json()["results"]
        if any(h["id"] == f"live-{i}" for h in hits):
            stats["freshness_ms"].append((time.perf_counter() - acked) * 1000)
            return
        await asyncio.sleep(0.025)


async def writer_loop(client: httpx.AsyncClient, until: float, stats: dict) -> None:
    """One message every 100 ms (the next one leaves when the previous was acknowledged, at the earliest 100 ms
    after it left); every fourth write also re-posts an earlier message with reactions; one write in five is
    probed for keyword freshness (sampled, so the probes do not become the load)."""
    i, sent, probes = 0, {}, []
    while time.perf_counter() < until:
        i += 1
        body = {"messages": [live_message(i)]}
        if i % 4 == 0 and sent:
            old = random.choice(list(sent))
            body["messages"].append({**sent[old], "reactions": {"👍": i % 9 + 1}})
        t = time.perf_counter()
        r = await client.post("/v1/brands/roue-libre/history/batch", json=body)
        acked = time.perf_counter()
        stats["write_ms"].append((acked - t) * 1000)
        if r.status_code >= 300:
            stats["errors"].append({"endpoint": "write", "status": r.status_code, "body": r.text[:200]})
        else:
            sent[i] = body["messages"][0]
            if i % 5 == 0:
                probes.append(asyncio.create_task(probe(client, i, acked, stats)))
        await asyncio.sleep(max(0.0, 0.1 - (time.perf_counter() - t)))
    await asyncio.gather(*probes)


async def phase(client: httpx.AsyncClient, mix: list, clients: int, seconds: float, *, live: bool) -> dict:
    samples: dict[str, list[float]] = {}
    errors: list[dict] = []
    stats: dict = {"write_ms": [], "freshness_ms": [], "errors": errors}
    started = time.perf_counter()
    until = started + seconds
    tasks = [client_loop(client, mix, until, samples, errors, i) for i in range(clients)]
    if live:
        tasks.append(writer_loop(client, until, stats))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - started
    every = [x for v in samples.values() for x in v]
    out = {"seconds": round(elapsed, 1), "requests": len(every), "throughput_rps": round(len(every) / elapsed, 1),
           "all": percentiles(every), "by_endpoint": {k: percentiles(v) for k, v in sorted(samples.items())},
           "errors": len(errors), "server_errors_5xx": sum(1 for e in errors if e.get("status", 0) >= 500),
           "error_examples": errors[:5]}
    if live:
        out["writes"] = {"count": len(stats["write_ms"]), "latency": percentiles(stats["write_ms"] or [0.0]),
                         "keyword_freshness_after_ack": percentiles(stats["freshness_ms"] or [0.0])}
    return out


async def run(base: str, clients: int, seconds: float) -> dict:
    headers = {"Authorization": f"Bearer {ADMIN}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30) as client:
        draft = (await client.post("/v1/brands/roue-libre/rituals/drafts", json={"ritual": "Jeudi réparation"})).json()
        mix = requests_mix(draft["id"])
        for name, method, url, kw in mix:  # warm-up: every endpoint once
            await client.request(method, url, **kw)
        quiet = await phase(client, mix, clients, seconds, live=False)
        live = await phase(client, mix, clients, seconds, live=True)
    side_by_side = {name: {"quiet": quiet["by_endpoint"][name], "live": live["by_endpoint"].get(name),
                           "p95_live_over_quiet": round(live["by_endpoint"][name]["p95_ms"]
                                                        / quiet["by_endpoint"][name]["p95_ms"], 2)}
                    for name in quiet["by_endpoint"] if name in live["by_endpoint"]}
    return {"clients": clients, "side_by_side": side_by_side, "quiet": quiet, "live": live,
            "targets": {"quiet_p99_ms": 250, "p95_live_over_quiet": 1.5, "keyword_freshness_p95_ms": 1000}}


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
            started = time.perf_counter()
            deadline = time.time() + 300
            while time.time() < deadline:
                try:
                    if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(0.1)
            ready_s = time.perf_counter() - started
            result = {"cold_start_to_ready_s": round(ready_s, 2), **asyncio.run(run(base, opts.clients, opts.seconds))}
        finally:
            server.terminate()
            server.wait(timeout=30)
    write_result("load", {"history": "sample brand + ~114,000 messages, see module docstring",
                          "prepare_s": round(prepare_s, 1), **result})


if __name__ == "__main__":
    main()
