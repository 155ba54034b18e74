"""Seams: only one adapter module imports each external SDK."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "copilot"
ALLOWED = {
    "sqlalchemy": ("copilot/store/",),
    "chromadb": ("copilot/index.py",),
    "litellm": ("copilot/llm.py",),
    "fastapi": ("copilot/api/",),
    "starlette": ("copilot/api/",),
    "slack_bolt": ("copilot/slack/",),
    "slack_sdk": ("copilot/slack/",),
    "onnxruntime": ("copilot/embed.py",),
    "bm25s": ("copilot/lexical.py",),
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_sdk_imports_stay_in_their_adapter():
    violations = []
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE.parent).as_posix()
        for sdk in _imports(path) & ALLOWED.keys():
            if not rel.startswith(ALLOWED[sdk]):
                violations.append(f"{rel} imports {sdk}")
    assert not violations, violations


def test_only_settings_reads_the_environment():
    offenders = [p.name for p in PACKAGE.rglob("*.py")
                 if "os.environ" in p.read_text(encoding="utf-8") and p.name != "settings.py"]
    assert offenders == []


def test_no_http_exception_below_the_api():
    offenders = [p.as_posix() for p in PACKAGE.rglob("*.py")
                 if "HTTPException" in p.read_text(encoding="utf-8") and "/api/" not in p.as_posix()]
    assert offenders == []
