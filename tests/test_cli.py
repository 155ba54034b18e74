import json

from typer.testing import CliRunner

from copilot.cli import app
from tests.conftest import ROOT


def test_ingest_search_and_eval_from_the_cli(tmp_path, monkeypatch):
    monkeypatch.setenv("COPILOT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("COPILOT_ENV", "test")
    from copilot.settings import get_settings

    get_settings.cache_clear()
    runner = CliRunner()
    history = ROOT / "knowledge" / "history.jsonl"
    r = runner.invoke(app, ["ingest", str(history), "--brand", "roue", "--create"])
    assert r.exit_code == 0, r.output
    assert '"inserted": 473' in r.output
    r = runner.invoke(app, ["search", "tubeless", "--brand", "roue", "--json", "--limit", "3"])
    hits = json.loads(r.output)
    assert r.exit_code == 0 and hits and "tubeless" in hits[0]["snippet"].lower()
    queries = tmp_path / "q.jsonl"
    queries.write_text(json.dumps({"query": "pneu tubeless perd de l'air", "relevant_ids": [hits[0]["id"]]}) + "\n")
    r = runner.invoke(app, ["eval", "retrieval", "--data", str(queries), "--brand", "roue", "--json"])
    metrics = json.loads(r.output)
    assert r.exit_code == 0 and set(metrics) >= {"recall_at_5", "mrr", "n"} and metrics["n"] == 1
    r = runner.invoke(app, ["ingest", str(history), "--brand", "nope"])
    assert r.exit_code != 0
    get_settings.cache_clear()
