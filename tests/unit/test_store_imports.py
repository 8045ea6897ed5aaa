"""store/'s modules import each other one way: no cycle, not even through an import inside a
function (the job file's YAML codec was split in two halves that imported each other)."""

from __future__ import annotations

import ast
from pathlib import Path

STORE = Path(__file__).resolve().parents[2] / "app" / "labdeck" / "store"


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for path in STORE.glob("*.py"):
        edges = graph.setdefault(path.stem, set())
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                if node.module:
                    edges.add(node.module.split(".")[0])
                else:
                    edges.update(alias.name for alias in node.names)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    found, state = [], {}

    def visit(name: str, path: list[str]) -> None:
        state[name] = "open"
        for nxt in sorted(graph.get(name, ())):
            if state.get(nxt) == "open":
                found.append(path[path.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, [*path, nxt])
        state[name] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    return found


def test_store_modules_import_each_other_one_way():
    assert _cycles(_graph()) == []


def test_the_check_sees_a_cycle_through_a_function_level_import():
    assert _cycles({"jobfile": {"planfile"}, "planfile": {"jobfile"}}) == [["jobfile", "planfile", "jobfile"]]
