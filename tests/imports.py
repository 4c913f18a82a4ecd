"""The import graph of the installed packages, read from the source (AST): every import counts — at the top, inside
a function, under TYPE_CHECKING, `import x` or `from x import y`, absolute or relative — because a lazy or type-only
import hides a circle, it does not remove it.

`python -m tests.imports` prints the layers as a Mermaid graph (the picture in the README's architecture section).
"""

from __future__ import annotations

import ast
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("matcher", "api", "ui", "embeddings")


def module_name(path: Path, root: Path = ROOT) -> str:
    """`matcher/review/batches.py` → `matcher.review.batches` (a package's __init__ is the package)."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules(root: Path = ROOT, packages: tuple[str, ...] = PACKAGES) -> dict[str, Path]:
    """Every module of the packages, by dotted name."""
    return {module_name(p, root): p for package in packages for p in sorted((root / package).rglob("*.py"))}


def imports_of(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The modules of `known` that `name` imports anywhere in its source."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]

    def resolve(dotted: str) -> str | None:
        while dotted and dotted not in known:
            dotted = dotted.rpartition(".")[0]
        return dotted or None

    found: set[str | None] = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            found |= {resolve(a.name) for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join([*parts[:len(parts) - node.level + 1], *filter(None, [base])])
            # `from a.b import c` depends on a.b.c when c is a module, else on a.b
            found |= {f"{base}.{a.name}" if f"{base}.{a.name}" in known else resolve(base) for a in node.names}
    return {m for m in found if m and m != name}


def graph(root: Path = ROOT, packages: tuple[str, ...] = PACKAGES) -> dict[str, set[str]]:
    """Module → the modules it imports."""
    known = modules(root, packages)
    return {name: imports_of(name, path, known) for name, path in known.items()}


def cycles(g: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted: every import circle."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in g.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 10 * len(g) + 100))
    try:
        for v in sorted(g):
            if v not in index:
                visit(v)
    finally:
        sys.setrecursionlimit(limit)
    return found


def layer(module: str) -> str:
    """The layer a module belongs to: a door (api, ui, the CLI), the core service, a concept package of matcher
    (matcher.review, matcher.store, …), or embeddings."""
    parts = module.split(".")
    if parts[0] != "matcher":
        return parts[0]
    if len(parts) == 1 or parts[1] in ("errors", "settings", "localtime", "periodic", "progress"):
        return "matcher (base)"
    return "matcher." + parts[1]


def layers(g: dict[str, set[str]]) -> dict[str, set[str]]:
    """The graph between layers (an edge where any module of one imports any module of the other)."""
    out: dict[str, set[str]] = defaultdict(set)
    for module, deps in g.items():
        out[layer(module)] |= {layer(d) for d in deps} - {layer(module)}
    return dict(out)


def mermaid(g: dict[str, set[str]] | None = None) -> str:
    """The layers as a Mermaid flowchart, top (doors) to bottom; the base modules everyone uses are left out."""
    lg = layers(g or graph())
    base = "matcher (base)"
    ids = {name: name.replace("matcher.", "").replace(" ", "_").replace("(", "").replace(")", "")
           for name in lg}
    lines = ["flowchart TD"]
    for name in sorted(lg):
        if name != base:
            lines.append(f'  {ids[name]}["{name}"]')
    for name in sorted(lg):
        for dep in sorted(lg[name]):
            if base not in (name, dep):
                lines.append(f"  {ids[name]} --> {ids[dep]}")
    return "\n".join(lines)


if __name__ == "__main__":
    print(mermaid())
