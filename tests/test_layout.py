"""The package's layout: no import circle, and the bottom layer depends on nothing above.

Read from the source, every import, also those inside functions: a late import hides an
edge from Python's import machinery, not from the design. A package's ``__init__`` that
re-exports its submodules is not a circle with them.
"""

from __future__ import annotations

import ast
import importlib
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "django_prodpatterns"
# The bottom layer (DESIGN.md, "The house"): depends on nothing else in the app.
BOTTOM = {"context", "conf", "exceptions", "markers"}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def resolve(module: str, is_package: bool, node: ast.ImportFrom) -> list[str]:
    """The app modules an ``ImportFrom`` at module level pulls in."""
    if node.level:
        base = module.split(".")
        base = base if is_package else base[:-1]
        base = base[: len(base) - (node.level - 1)]
        target = ".".join(base + ([node.module] if node.module else []))
    else:
        target = node.module or ""
    if not target.startswith("django_prodpatterns"):
        return []
    # "from . import x" may name a submodule.
    names = [f"{target}.{alias.name}" for alias in node.names]
    return [target, *names]


def runtime_nodes(tree: ast.AST) -> list[ast.AST]:
    """Every node that runs, at import or in a function: not ``if TYPE_CHECKING:`` blocks."""
    nodes, todo = [], [tree]
    while todo:
        node = todo.pop()
        nodes.append(node)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            todo.extend(node.orelse)
            continue
        todo.extend(ast.iter_child_nodes(node))
    return nodes


def import_graph() -> dict[str, set[str]]:
    paths = [p for p in PACKAGE.rglob("*.py") if "migrations" not in p.parts]
    modules = {module_name(p): p for p in paths}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text())
        edges: set[str] = set()
        for node in runtime_nodes(tree):
            if isinstance(node, ast.ImportFrom):
                edges.update(resolve(name, path.name == "__init__.py", node))
            elif isinstance(node, ast.Import):
                edges.update(a.name for a in node.names if a.name.startswith("django_prodpatterns"))
        graph[name] = {e for e in edges if e in modules and e != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    found, state, stack = [], {}, []

    def visit(node: str) -> None:
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                found.append([*stack[stack.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node)
    return found


def test_no_import_circle():
    packages = graph_packages()
    graph = {
        name: {e for e in edges if not (name.startswith(e + ".") and e in packages)}
        for name, edges in import_graph().items()
    }
    assert cycles(graph) == []


def graph_packages() -> set[str]:
    return {module_name(p) for p in PACKAGE.rglob("__init__.py") if "migrations" not in p.parts}


def test_the_bottom_layer_depends_on_nothing_above_it():
    graph = import_graph()
    upward = {
        name: sorted(e for e in edges if e.split(".")[1] not in BOTTOM)
        for name, edges in graph.items()
        if name.split(".")[-1] in BOTTOM and name.count(".") == 1
    }
    assert {name: edges for name, edges in upward.items() if edges} == {}
    assert len(upward) == len(BOTTOM)  # each bottom module was looked at


MOVED = [
    ("django_prodpatterns.db.embedded", "django_prodpatterns.devserver.embedded", "start_server"),
    ("django_prodpatterns.db.pgbouncer", "django_prodpatterns.devserver.pgbouncer", "start"),
    ("django_prodpatterns.db.roles", "django_prodpatterns.ops.roles", "ensure_role"),
    ("django_prodpatterns.db.guard", "django_prodpatterns.ops.lock_watch", "LockWatcher"),
    ("django_prodpatterns.migration_lint", "django_prodpatterns.ops.migration_lint", "lint"),
]


@pytest.mark.parametrize(("old", "new", "name"), MOVED)
def test_a_moved_module_still_imports_from_its_old_path_with_a_warning(old, new, name):
    sys.modules.pop(old, None)
    with pytest.warns(DeprecationWarning, match=f"{old} is deprecated: it moved to {new}"):
        module = importlib.import_module(old)
    assert getattr(module, name) is getattr(importlib.import_module(new), name)


def test_nothing_in_the_project_imports_an_old_path():
    old_paths = tuple(old for old, _, _ in MOVED)
    root = PACKAGE.parent
    users = []
    for folder in ("django_prodpatterns", "tests", "example_project", "benchmarks"):
        for path in (root / folder).rglob("*.py"):
            if module_name_of(path, root) in old_paths or path.name == "test_layout.py":
                continue
            text = path.read_text()
            users += [f"{path.relative_to(root)}: {old}" for old in old_paths if old in text]
    assert users == []


def module_name_of(path: Path, root: Path) -> str:
    return ".".join(path.relative_to(root).with_suffix("").parts)


ARCHITECTURE = PACKAGE.parent / "docs" / "architecture.md"


def documented_layout() -> dict[str, set[str]]:
    """The package layout drawn in docs/architecture.md (which the README links as the
    architecture section): each directory, as a path inside the package ("" for the package
    itself), with the entries listed under it ("name.py" or "name/")."""
    text = ARCHITECTURE.read_text()
    block = text.split("## Package layout", 1)[1].split("```", 2)[1]
    layout: dict[str, set[str]] = {"": set()}
    parent = ""
    for line in block.splitlines():
        indent = len(line) - len(line.lstrip(" "))
        if indent not in (2, 4) or not line.strip():
            continue  # the root, other top-level folders, and wrapped descriptions
        column = line.strip().split("  ", 1)[0]
        for name in column.split(", "):
            name = name.split(" ")[0]  # "migration_lint.py the rules ..." (one space)
            if indent == 2 and "/" in name.rstrip("/"):
                folder, _, leaf = name.rpartition("/")  # "db/embedded.py" at the top level
                layout.setdefault(folder, set()).add(leaf)
                continue
            where = "" if indent == 2 else parent
            layout.setdefault(where, set()).add(name)
            if indent == 2 and name.endswith("/"):
                parent = name.rstrip("/")
                layout.setdefault(parent, set())
    return layout


def actual_entries(folder: Path) -> set[str]:
    """Modules and folders (packages, and data such as ``sql/``), ``__init__.py`` aside."""
    return {
        f"{p.name}/" if p.is_dir() else p.name
        for p in folder.iterdir()
        if (p.is_dir() and p.name != "__pycache__")
        or (p.suffix == ".py" and p.name != "__init__.py")
    }


def test_the_documented_layout_matches_the_package():
    """Every module and package the architecture page draws exists, every top-level one is
    drawn, and a folder whose modules are drawn one by one has all of them drawn, so the
    page can't fall behind a move (it did, before this test)."""
    layout = documented_layout()
    assert {"db", "ops", "admin", "devserver"} <= set(layout)  # the parser read the drawing
    problems = []
    for folder, listed in sorted(layout.items()):
        actual = actual_entries(PACKAGE / folder) | ({"__init__.py"} & listed)
        if folder and not listed:
            continue  # a package drawn as one line ("checks/", "models/")
        problems += [f"drawn but missing: {folder}/{name}" for name in sorted(listed - actual)]
        problems += [f"not drawn: {folder}/{name}" for name in sorted(actual - listed)]
    assert problems == []
