"""The suite's own rules: a test module imports helpers from tests/support/ (or a conftest),
never from another test module, so each file can run, move or be deleted on its own; and there
is one wait_for (tests/support/waiting.py)."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]


def _imports_of_test_modules(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            last = node.module.rsplit(".", 1)[-1]
            if node.module.startswith("tests.") and last.startswith("test_"):
                found.append(f"{path.relative_to(TESTS.parent)}:{node.lineno}: from {node.module} import ...")
    return found


def test_no_test_module_imports_another():
    offences = [o for path in sorted(TESTS.rglob("*.py")) for o in _imports_of_test_modules(path)]
    assert offences == [], "move the shared helper into tests/support/:\n" + "\n".join(offences)


def test_one_wait_for():
    defined = [f"{p.relative_to(TESTS.parent)}" for p in sorted(TESTS.rglob("*.py"))
               for node in ast.walk(ast.parse(p.read_text(encoding="utf-8")))
               if isinstance(node, ast.FunctionDef) and node.name in ("wait_for", "_wait_for")]
    assert defined == ["tests/support/waiting.py"], defined


def test_the_scan_sees_an_import_from_a_test_module(tmp_path, monkeypatch):
    sample = TESTS / "unit" / "test_suite_layout.py"
    assert _imports_of_test_modules(sample) == []
    bad = tmp_path / "test_x.py"
    bad.write_text("from tests.integration.test_cli import labdeck\n")
    monkeypatch.setattr(Path, "relative_to", lambda self, other: self.name)
    assert _imports_of_test_modules(bad) == ["test_x.py:1: from tests.integration.test_cli import ..."]
