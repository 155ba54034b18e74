"""A real client: Python code generated from `openapi.yaml` with openapi-python-client runs the quickstart
(`examples/quickstart.py`) and every read a newcomer makes next against a live `copilot serve`, and no response
parses into an untyped dict. The README's quickstart commands run as written against the same server."""

from __future__ import annotations

import importlib.util
import inspect
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any, Iterator

import httpx
import pytest

from tests.chroma_server import free_port
from tests.conftest import ROOT, missing

ADMIN_KEY = "client-test-admin-key"


@pytest.fixture(scope="module")
def client_pkg(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Generate `copilot_client` from openapi.yaml; the generator must not warn."""
    generator = Path(sys.executable).parent / "openapi-python-client"
    if not generator.exists():
        missing("openapi-python-client is not installed (a dev dependency: pip install -e '.[dev]')")
    out = tmp_path_factory.mktemp("client")
    done = subprocess.run([str(generator), "generate", "--path", str(ROOT / "openapi.yaml"), "--meta", "none",
                           "--output-path", str(out / "copilot_client"), "--config",
                           str(ROOT / "examples" / "openapi-client.yaml")], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "warning" not in (done.stdout + done.stderr).lower(), done.stdout + done.stderr
    sys.path.insert(0, str(out))
    yield out
    sys.path.remove(str(out))
    for name in [m for m in sys.modules if m == "copilot_client" or m.startswith("copilot_client.")]:
        del sys.modules[name]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`copilot serve` in its own process, on an empty SQLite data directory (the model-free embedder)."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("COPILOT_")}
    env.update(PYTHONPATH=str(ROOT), COPILOT_DATA_DIR=str(tmp_path_factory.mktemp("serve")), COPILOT_ENV="test",
               COPILOT_ADMIN_KEY=ADMIN_KEY, COPILOT_EMBEDDER="hash")
    proc = subprocess.Popen([sys.executable, "-m", "copilot.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                break
        except httpx.TransportError:
            pass
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else "copilot serve exited"
        time.sleep(0.3)
    else:
        proc.kill()
        pytest.fail("copilot serve was not ready within 120 s")
    yield url
    proc.terminate()
    proc.wait(timeout=30)


def untyped(value: Any, path: str) -> list[str]:
    """Where a parsed response holds data the contract did not type: a plain dict, or keys a model did not
    declare (they land in `additional_properties`, typed Any). Typed maps (emoji -> count) are fine."""
    import attrs

    if isinstance(value, dict):
        return [f"{path} is a plain dict"]
    if isinstance(value, list):
        return [p for i, item in enumerate(value) for p in untyped(item, f"{path}[{i}]")]
    if not attrs.has(type(value)):
        return []
    problems = []
    extra = getattr(value, "additional_properties", {})
    declared = str(type(value).__annotations__.get("additional_properties", ""))
    if extra and "Any" in declared:
        problems.append(f"{path} ({type(value).__name__}) has undeclared keys {sorted(extra)}")
    for field in attrs.fields(type(value)):
        if field.name != "additional_properties":
            problems += untyped(getattr(value, field.name), f"{path}.{field.name}")
    return problems


def classes(value: Any) -> set[str]:
    """Names of every generated model class in a parsed response."""
    import attrs

    if isinstance(value, list):
        return {name for item in value for name in classes(item)}
    if not attrs.has(type(value)):
        return set()
    return {type(value).__name__} | {name for f in attrs.fields(type(value)) for name in classes(getattr(value, f.name))}


def _load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("quickstart_example", ROOT / "examples" / "quickstart.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_quickstart_through_the_generated_client_reads_only_typed_models(client_pkg: Path, server: str):
    steps = _load_example().run(server, ADMIN_KEY, brand="acme-client")
    assert steps["approved"].status.value == "approved" and steps["job"].status.value == "succeeded"
    assert steps["job"].counts.messages.inserted == 16 and steps["charter"].charter.rituals[0].name == "Rules clinic"

    from copilot_client import AuthenticatedClient
    from copilot_client.api.brands import get_brand, list_brands
    from copilot_client.api.community import spotlight, vitality
    from copilot_client.api.drift import check_drift, drift_report
    from copilot_client.api.history import export_member, list_members
    from copilot_client.api.ops import readyz, root
    from copilot_client.api.review import draft_history, edit_draft, get_draft, list_drafts
    from copilot_client.api.rituals import llm_usage
    from copilot_client.api.search import search
    from copilot_client.models import DriftCheckIn, Problem

    admin = AuthenticatedClient(base_url=server, token=ADMIN_KEY)
    brand, draft_id = "acme-client", steps["draft"].id
    member_id = next(m.id for m in list_members.sync(brand, client=admin).items if m.source_id == "ana")
    reads = {
        "root": root.sync(client=admin), "readyz": readyz.sync(client=admin),
        "brands": list_brands.sync(client=admin), "members": list_members.sync(brand, client=admin),
        "spotlight": spotlight.sync(brand, client=admin, window_days=365),
        "vitality": vitality.sync(brand, client=admin, window_days=365),
        "drift_report": drift_report.sync(brand, client=admin, window_days=365),
        "drift_check": check_drift.sync(brand, client=admin, body=DriftCheckIn(
            text="LAST CHANCE: limited offer, share this post and tag 3 friends to win!", save_rewrite=True)),
        "search": search.sync(brand, client=admin, q="storm cards stack"),
        "drafts": list_drafts.sync(brand, client=admin), "draft": get_draft.sync(draft_id, client=admin),
        "history": draft_history.sync(draft_id, client=admin), "usage": llm_usage.sync(brand, client=admin),
        "export": export_member.sync(brand, member_id, client=admin),
    }
    parsed = {**steps, **reads}
    problems = [p for name, value in parsed.items() for p in untyped(value, name)]
    assert not problems, problems
    assert all(value is not None and not isinstance(value, Problem) for value in parsed.values()), \
        {k: v for k, v in parsed.items() if v is None or isinstance(v, Problem)}
    seen = classes(list(parsed.values()))
    # The outputs the issue found untyped are named models now.
    assert seen >= {"Suggestion", "ScoreBreakdown", "EvidenceMessage", "ConsentStatus", "VitalityKpis", "Participation",
                    "Retention", "WeeklyVitality", "FeedReport", "WorstPost", "Flag", "DriftCheck", "FeedQuota",
                    "IngestOut", "MessageCounts", "DraftGuards", "DriftGuard", "Grounding", "LLMUsage", "PromptRef",
                    "UsageOut", "Revision", "Decision", "MemberExport", "ExportedMessage", "Root",
                    "HealthChecks"}, seen
    assert reads["spotlight"].suggestions and reads["spotlight"].suggestions[0].breakdown.help_given > 0
    assert [d.action.value if hasattr(d.action, "value") else d.action for d in reads["history"].decisions] == \
        ["submit", "approve"]
    # A missing brand answers a typed Problem, and If-Match is a required argument where the server requires it.
    gone = get_brand.sync_detailed("no-such-brand", client=admin)
    assert gone.status_code == 404 and isinstance(gone.parsed, Problem) and "no-such-brand" in gone.parsed.detail
    assert inspect.signature(edit_draft.sync_detailed).parameters["if_match"].default is inspect.Parameter.empty


def _readme_quickstart() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Quickstart: your own brand in six calls", 1)[1]
    return re.search(r"```sh\n(.*?)```", section, re.S).group(1)  # type: ignore[union-attr]


def test_the_readme_quickstart_runs_as_written(server: str):
    script = _readme_quickstart()
    env = {**os.environ, "COPILOT": server, "COPILOT_ADMIN_KEY": ADMIN_KEY}
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=180)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert '"status":"approved"' in done.stdout.replace(" ", ""), done.stdout[-2000:]
    hits = re.findall(r'"snippet":\s*"([^"]*)"', done.stdout)
    assert any("storm" in hit.lower() for hit in hits), done.stdout[-2000:]
