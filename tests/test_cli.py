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


def _cli_env(tmp_path, monkeypatch):
    monkeypatch.setenv("COPILOT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("COPILOT_ENV", "test")
    monkeypatch.setenv("COPILOT_EMBEDDER", "hash")
    from copilot.settings import get_settings

    get_settings.cache_clear()


def test_known_errors_print_one_line_with_the_fix(tmp_path, monkeypatch):
    _cli_env(tmp_path, monkeypatch)
    runner = CliRunner()
    queries = ROOT / "tests" / "data" / "retrieval_queries.jsonl"
    for args in (["eval", "retrieval", "--data", str(queries), "--brand", "se-eval"],
                 ["keys", "create", "--brand", "acme", "--actor", "editor", "--scope", "review"],
                 ["search", "tubeless", "--brand", "acme"]):
        r = runner.invoke(app, args)
        assert r.exit_code == 2, (args, r.output)
        lines = r.output.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in r.output, r.output
        assert lines[0].startswith("error: brand '") and "copilot brands create" in lines[0], lines[0]
    r = runner.invoke(app, ["eval", "retrieval", "--data", str(queries), "--brand", "se-eval", "--fusion", "combsum"])
    assert r.exit_code == 2 and "unknown fusion 'combsum'" in r.output and "union" in r.output, r.output
    r = runner.invoke(app, ["brands", "create", "Not A Slug", "--name", "X"])
    assert r.exit_code == 2 and "lower-case slugs" in r.output and len(r.output.strip().splitlines()) == 1
    from copilot.settings import get_settings

    get_settings.cache_clear()


def test_brands_create_list_and_keys(tmp_path, monkeypatch):
    _cli_env(tmp_path, monkeypatch)
    runner = CliRunner()
    r = runner.invoke(app, ["brands", "create", "acme", "--name", "Acme Boardgames", "--language", "en"])
    assert r.exit_code == 0 and "brand 'acme' created" in r.output, r.output
    r = runner.invoke(app, ["brands", "create", "acme", "--name", "Again"])
    assert r.exit_code == 2 and "already exists" in r.output and "Traceback" not in r.output
    r = runner.invoke(app, ["brands", "list", "--json"])
    assert json.loads(r.output) == [{"id": "acme", "name": "Acme Boardgames", "language": "en", "messages": 0}]
    r = runner.invoke(app, ["keys", "create", "--brand", "acme", "--actor", "editor", "--scope", "review"])
    assert r.exit_code == 0 and r.output.startswith("cpk_"), r.output
    from copilot.settings import get_settings

    get_settings.cache_clear()


def test_demo_counts_the_history_it_loaded(tmp_path, monkeypatch):
    _cli_env(tmp_path, monkeypatch)
    history = ROOT / "knowledge" / "history.jsonl"
    messages = sum(1 for line in history.read_text(encoding="utf-8").splitlines() if '"type": "message"' in line)
    r = CliRunner().invoke(app, ["demo"])
    assert r.exit_code == 0, r.output
    assert f"history: {messages} messages (this load: {messages} inserted" in r.output, r.output
    from copilot.settings import get_settings

    get_settings.cache_clear()
