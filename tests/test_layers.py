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
            if module == "matcher.store" or module.startswith("matcher.store.") or (
                    node.level and module.split(".")[0] == "store") or any(a.name in ("store", "Store")
                                                                           for a in node.names):
                found.append(f"{path.name}:{node.lineno} imports the store")
        elif isinstance(node, ast.Import) and any(a.name.startswith("matcher.store") for a in node.names):
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
    modules = [p for p in sorted((ROOT / "matcher").rglob("*.py")) if "store" not in p.relative_to(ROOT).parts]
    problems = [p for path in modules for p in offences(path) if "holds SQL" in p]
    assert not problems, problems


def test_the_check_catches_a_shortcut(tmp_path):
    bad = tmp_path / "route.py"
    bad.write_text("from matcher.store import Store\n\ndef f(service):\n    service.store.query('select * from needs')\n")
    assert len(offences(bad)) == 3


def _module(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def test_no_import_cycles_in_matcher():
    graph: dict[str, set[str]] = {}
    for path in (ROOT / "matcher").rglob("*.py"):
        name = _module(path)
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        tree = ast.parse(path.read_text("utf-8"))
        typing_only = {id(n) for block in ast.walk(tree) if isinstance(block, ast.If)
                       and getattr(block.test, "id", "") == "TYPE_CHECKING" for n in ast.walk(block)}
        deps = set()
        for node in ast.walk(tree):
            if id(node) in typing_only or not isinstance(node, ast.ImportFrom):
                continue
            base = node.module or ""
            if node.level:
                base = ".".join([*package.split(".")[:len(package.split(".")) - node.level + 1], *filter(None, [base])])
            if not base.startswith("matcher"):
                continue
            # `from matcher.x import y` depends on matcher.x, or on matcher.x.y when y is a module
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                deps.add(sub if (ROOT / (sub.replace(".", "/") + ".py")).exists() else base)
        graph[name] = {d for d in deps if d != name}
    # imports inside functions count too (a lazy import hides a cycle, it does not remove it); type-only imports
    # don't; the documented lazy ones: the service loads the importer for the demo, settings checks method names
    allowed = {("matcher.service", "matcher.ingest.importer"), ("matcher.settings", "matcher.retrieval.ranking")}

    def visit(node: str, trail: list[str]) -> None:
        for dep in graph.get(node, ()):
            if (node, dep) in allowed:
                continue
            assert dep not in trail, "import cycle: " + " → ".join([*trail, dep])
            visit(dep, [*trail, dep])

    assert len(graph) > 30
    for module in graph:
        visit(module, [module])
