"""The house's rules, checked: the layers and forbidden imports of pyproject.toml's import-linter
contracts, rooms of a readable size, no module reaching into another's private names, and
commands that import at their start only what they need there."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PRODUCT = ["altclip_core", "search", "indexer", "ui"]
MOST_LINES = 400


def modules() -> list[Path]:
    return sorted(p for room in PRODUCT for p in (ROOT / room).rglob("*.py"))


def test_the_layers_hold():
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([lint], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr


def test_no_room_is_too_large():
    long = {
        str(p.relative_to(ROOT)): n
        for p in modules()
        if (n := len(p.read_text().splitlines())) > MOST_LINES
    }
    assert not long, f"over {MOST_LINES} lines: split by the question each part answers: {long}"


def test_no_module_imports_another_modules_private_names():
    reaching = []
    for path in modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                private = [a.name for a in node.names if a.name.startswith("_")]
                if private and node.module != "__future__":
                    reaching.append(
                        f"{path.relative_to(ROOT)}: from {node.module} import {private}"
                    )
    assert not reaching, reaching


def test_commands_import_at_their_start_only_what_they_need():
    """altclip-index imports torch for the first photo it embeds, not at its start (a watcher
    with nothing to embed stays small); altclip-ui's launcher, which only reads its settings
    before it hands over to the server, imports no FAISS, SQLAlchemy, torch or Streamlit."""
    for module, unwanted in (
        ("indexer.cli", ["torch"]),
        ("ui.launch", ["faiss", "sqlalchemy", "torch", "streamlit"]),
    ):
        code = f"import sys, {module}; print(*[m for m in {unwanted} if m in sys.modules])"
        out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
        assert out.returncode == 0 and out.stdout.strip() == "", (module, out.stdout, out.stderr)
