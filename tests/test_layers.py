"""One door: API routes, workbench pages and CLI commands reach the catalogue through the service layer only.

They never import the store, never touch a service's `.store`, and hold no SQL; the matcher package has no import
cycles. Checked on the source (AST), so a new route or page that takes a shortcut fails here.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOORS = [*sorted((ROOT / "api").rglob("*.py")), *sorted((ROOT / "ui").rglob("*.py")), ROOT / "matcher" / "cli.py"]
SQL = re.compile(r"^\s*(select\s.+\sfrom\s|insert\s+into\s|update\s+\S+\s+set\s|delete\s+from\s|create\s+table\s)",
                 re.IGNORECASE | re.DOTALL)


def offences(path: Path) -> list[str]:
    tree = ast.parse(path.read_text("utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if module in ("matcher.store", "store") or (node.level and module == "store") or any(
                    a.name in ("store", "Store") for a in node.names):
                found.append(f"{path.name}:{node.lineno} imports the store")
        elif isinstance(node, ast.Import) and any(a.name == "matcher.store" for a in node.names):
            found.append(f"{path.name}:{node.lineno} imports the store")
        elif isinstance(node, ast.Attribute) and node.attr in ("store", "db", "conn"):
            found.append(f"{path.name}:{node.lineno} reaches into .{node.attr}")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and SQL.match(node.value):
            found.append(f"{path.name}:{node.lineno} holds SQL")
    return found


def test_routes_pages_and_commands_use_the_service_layer_only():
    assert len(DOORS) > 15
    problems = [p for path in DOORS for p in offences(path)]
    assert not problems, problems


def test_sql_lives_in_the_store_only():
    # the embedding cache keeps its own small SQLite table (a cache, not the catalogue)
    modules = [p for p in sorted((ROOT / "matcher").glob("*.py")) if p.name != "store.py"]
    problems = [p for path in modules for p in offences(path) if "holds SQL" in p]
    assert not problems, problems


def test_the_check_catches_a_shortcut(tmp_path):
    bad = tmp_path / "route.py"
    bad.write_text("from matcher.store import Store\n\ndef f(service):\n    service.store.query('select * from needs')\n")
    assert len(offences(bad)) == 3


def test_no_import_cycles_in_matcher():
    graph: dict[str, set[str]] = {}
    for path in (ROOT / "matcher").glob("*.py"):
        deps = set()
        tree = ast.parse(path.read_text("utf-8"))
        typing_only = {id(n) for block in ast.walk(tree) if isinstance(block, ast.If)
                       and getattr(block.test, "id", "") == "TYPE_CHECKING" for n in ast.walk(block)}
        for node in ast.walk(tree):
            if id(node) in typing_only:
                continue
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                if node.module:
                    deps.add(node.module.split(".")[0])
                else:
                    deps.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("matcher."):
                deps.add(node.module.split(".")[1])
        graph[path.stem] = deps
    # imports inside functions count too (a lazy import hides a cycle, it does not remove it); type-only imports
    # don't; the documented lazy ones: the service loads the importer for the demo, settings checks method names
    allowed = {("service", "importer"), ("settings", "ranking")}

    def visit(node: str, trail: list[str]) -> None:
        for dep in graph.get(node, ()):
            if (node, dep) in allowed:
                continue
            assert dep not in trail, "import cycle: " + " → ".join([*trail, dep])
            visit(dep, [*trail, dep])

    for module in graph:
        visit(module, [module])
