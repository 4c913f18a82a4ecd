"""One door: API routes, workbench pages and CLI commands reach the catalogue through the service layer only.

They never import the store, never touch a service's `.store`, and hold no SQL; the matcher package has no import
cycles. Checked on the source (AST), so a new route or page that takes a shortcut fails here; the import graph and
its picture come from tests/imports.py.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from tests import imports

ROOT = Path(__file__).resolve().parents[1]
DOORS = [*sorted((ROOT / "api").rglob("*.py")), *sorted((ROOT / "ui").rglob("*.py")), ROOT / "matcher" / "cli.py"]
SQL = re.compile(r"^\s*(select\s.+\sfrom\s|insert\s+into\s|update\s+\S+\s+set\s|delete\s+from\s|create\s+table\s)",
                 re.IGNORECASE | re.DOTALL)
# who may see what is decided inside the services (Catalogue.view / require_readable / require_owner, Matching.seen)
POLICY = {"need_view", "redact_need", "redact_match", "can_see_confidential", "outsider_scope"}
# a piece of SQL: a comparison with a placeholder or literal, an IN list, NULL tests, ORDER BY or sort directions
FRAGMENT = re.compile(r"""(\w"?\s*(=|<>|!=|<=|>=|<|>)\s*(\?|'))|\sin\s*\(\s*\?|\bis\s+(not\s+)?null\b|"""
                      r"""\border\s+by\b|^\s*\w+\s+(desc|asc)\b|\b(desc|asc)\s*(,|$)|\bcoalesce\(""", re.IGNORECASE)

FRAGMENTS_SAMPLE = '''\"\"\"Rows where status is null, in order by id.\"\"\"


def f(store, n):
    \"\"\"Pairs whose stage <> 'dropped'.\"\"\"
    store.rows("a", "need_id = ?", [n])
    store.rows("a", order="id desc")
    store.rows("a", "stage <> 'dropped' and x in (?, ?)")
    store.count("a", "y is not null")
    store.rows("a", {"need_id": n}, order="-id")
    return f"{n} = {n}"
'''


def _docstrings(tree: ast.AST) -> set[int]:
    """The ids of the docstring constants (prose, where words like "is null" are no SQL)."""
    return {id(body[0].value) for node in ast.walk(tree)
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
            and (body := node.body) and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)}


def offences(path: Path) -> list[str]:
    tree = ast.parse(path.read_text("utf-8"))
    prose = _docstrings(tree)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in prose \
                and not SQL.match(node.value) and FRAGMENT.search(node.value):
            found.append(f"{path.name}:{node.lineno} holds a piece of SQL: {node.value!r}")
        if isinstance(node, ast.ImportFrom) and {a.name for a in node.names} & POLICY:
            found.append(f"{path.name}:{node.lineno} decides access itself (imports the redaction policy)")
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
    """No SQL statement, fragment or placeholder outside matcher/store: the rest of the package asks the store in
    named queries and column → value filters. (The embedding cache still keeps its own small SQLite table.)"""
    modules = [p for p in sorted((ROOT / "matcher").rglob("*.py")) if "store" not in p.relative_to(ROOT).parts]
    problems = [p for path in modules for p in offences(path) if "SQL" in p]
    assert not problems, problems


def test_the_check_catches_a_fragment(tmp_path):
    bad = tmp_path / "queue.py"
    bad.write_text(FRAGMENTS_SAMPLE)
    assert sorted(int(p.split(":")[1].split()[0]) for p in offences(bad)) == [6, 7, 8, 9]


def test_the_check_catches_a_shortcut(tmp_path):
    bad = tmp_path / "route.py"
    bad.write_text("from matcher.store import Store\n\ndef f(service):\n    service.store.query('select * from needs')\n")
    assert len(offences(bad)) == 3
    bad.write_text("from matcher.access import Principal, need_view\n")
    assert offences(bad) == ["route.py:1 decides access itself (imports the redaction policy)"]


def test_no_import_cycles_anywhere():
    """No circle among the modules of matcher, api, ui and embeddings, counting every import (inside functions and
    under TYPE_CHECKING too)."""
    g = imports.graph()
    assert len(g) > 120 and sum(map(len, g.values())) > 400
    assert imports.cycles(g) == []


def test_the_cycle_check_finds_a_hidden_circle(tmp_path):
    """A circle closed by a lazy import inside a function and a type-only import is still a circle."""
    pkg = tmp_path / "matcher"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from matcher.b import B\n")
    (pkg / "b.py").write_text("def f():\n    from . import c\n")
    (pkg / "c.py").write_text("import matcher.a\n")
    (pkg / "d.py").write_text("from matcher import a\n")
    g = imports.graph(tmp_path, ("matcher",))
    assert g["matcher.d"] == {"matcher.a"}
    assert imports.cycles(g) == [["matcher.a", "matcher.b", "matcher.c"]]


def test_layers_point_down():
    """Doors (api, ui, the CLI) sit on the services; nothing in the library imports a door; embeddings and the
    store import nothing above them."""
    g = imports.graph()
    doors = ("api", "ui", "matcher.cli")
    for module, deps in g.items():
        if not module.startswith(doors):
            assert not {d for d in deps if d.startswith(doors)}, f"{module} imports a door"
        if module.startswith("embeddings"):
            assert all(d.startswith("embeddings") for d in deps), f"{module} imports {deps}"
        if module.startswith("matcher.store"):
            assert all(d.startswith(("matcher.store", "matcher.errors", "matcher.settings", "matcher.localtime",
                                     "embeddings")) for d in deps), f"{module} imports {sorted(deps)}"


def test_the_readme_shows_the_layers_as_they_are():
    """The README's picture is what `python -m tests.imports` prints today."""
    readme = (ROOT / "README.md").read_text("utf-8")
    assert imports.mermaid() in readme, "regenerate the picture: python -m tests.imports"


def test_the_concept_packages_form_no_circle_either():
    """Between packages too, imports point one way: no two packages (catalogue and ingest, matching and learning, …)
    import each other, directly or round a longer loop — the picture in the README is a clean top-to-bottom graph."""
    lg = imports.layers(imports.graph())
    assert imports.cycles(lg) == []


def _takes_the_app(node: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """Whether a function's first parameter is the whole application (by name or by type)."""
    if not node.args.args:
        return False
    first = node.args.args[0]
    hint = ast.unparse(first.annotation) if first.annotation else ""
    return first.arg in ("service", "svc", "app") or hint.strip("'\"") in ("App", "MatchService")


def test_no_library_function_takes_the_whole_app():
    """Services are classes handed what they need (matcher/app.py composes them): no module function of the library
    takes "the service" to reach everything, the old second door beside the service's methods."""
    found = []
    for path in sorted((ROOT / "matcher").rglob("*.py")):
        if path.name in ("cli.py", "app.py"):
            continue
        tree = ast.parse(path.read_text("utf-8"))
        found += [f"{path.relative_to(ROOT)}:{node.lineno} {node.name}" for node in tree.body
                  if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and _takes_the_app(node)]
    assert not found, found
    bad = ast.parse("def scan(service: App, limit: int = 5):\n    pass\n").body[0]
    assert _takes_the_app(bad)


def test_services_are_composed_in_one_place():
    """Only the app builds the services: no library module constructs another concept's service (each is handed
    the ones it needs), and the doors get them from the app."""
    app = ast.parse((ROOT / "matcher" / "app.py").read_text("utf-8"))
    init = next(n for n in ast.walk(app) if isinstance(n, ast.FunctionDef) and n.name == "__init__")
    services = {n.value.func.id for n in ast.walk(init) if isinstance(n, ast.Assign)
                and isinstance(n.value, ast.Call) and isinstance(n.value.func, ast.Name)
                and n.value.func.id[:1].isupper()}  # classes App builds (not open_store, load_vocab)
    assert {"Catalogue", "Matching", "ReviewQueue", "Alerts", "Learning"} <= services, services
    built = []
    for path in [*sorted((ROOT / "matcher").rglob("*.py")), *DOORS]:
        if path.name == "app.py" and path.parent.name == "matcher":
            continue
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in services:
                built.append(f"{path.relative_to(ROOT)}:{node.lineno} builds {node.func.id}")
    assert not built, built
