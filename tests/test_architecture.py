"""Seams: only one adapter module imports each external SDK."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "copilot"
ALLOWED = {
    "sqlalchemy": ("copilot/store/",),
    "chromadb": ("copilot/index.py",),
    "litellm": ("copilot/llm.py",),
    "fastapi": ("copilot/api/", "copilot/desk/routes.py"),  # the desk's pages are served by the same app
    "starlette": ("copilot/api/", "copilot/desk/routes.py"),
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


ENV_READERS = {"getenv", "getenvb", "environ", "environb", "putenv", "unsetenv"}


def _environment_uses(tree: ast.AST) -> list[tuple[int, str]]:
    """Every use of the process environment in a module: os.environ / os.getenv / from os import environ …"""
    uses = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in ENV_READERS and \
                isinstance(node.value, ast.Name) and node.value.id == "os":
            uses.append((node.lineno, f"os.{node.attr}"))
        elif isinstance(node, ast.ImportFrom) and node.module == "os":
            uses += [(node.lineno, f"from os import {a.name}") for a in node.names if a.name in ENV_READERS]
    return uses


def _litellm_setdefaults(tree: ast.AST) -> set[int]:
    """Lines of `os.environ.setdefault(<key of LITELLM_ENV>, …)`: the one write allowed, in the litellm adapter."""
    lines = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "setdefault" \
                and isinstance(node.func.value, ast.Attribute) and node.func.value.attr == "environ":
            lines.add(node.lineno)
    return lines


def test_only_settings_reads_the_environment():
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE.parent).as_posix()
        tree = ast.parse(path.read_text(encoding="utf-8"))
        allowed = _litellm_setdefaults(tree) if rel == "copilot/llm.py" else set()
        if rel != "copilot/settings.py":
            offenders += [f"{rel}:{line} {what}" for line, what in _environment_uses(tree) if line not in allowed]
    assert offenders == []


def test_the_environment_check_catches_every_spelling():
    for source in ("import os\nx = os.getenv('A')", "import os\nx = os.environ['A']", "from os import environ",
                   "from os import getenv as g", "import os\nos.environ.get('A')"):
        assert _environment_uses(ast.parse(source)), source
    assert not _environment_uses(ast.parse("import os\nos.path.join('a')"))


def test_settings_has_no_side_effect_on_the_environment():
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k not in ("LITELLM_LOCAL_MODEL_COST_MAP", "DISABLE_AIOHTTP_TRANSPORT")}
    code = ("import os, copilot.settings as s; s.Settings(); "
            "print(sorted(k for k in os.environ if k in ('LITELLM_LOCAL_MODEL_COST_MAP', 'DISABLE_AIOHTTP_TRANSPORT')))")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
