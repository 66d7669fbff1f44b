"""The package's import graph: no cycle between project modules, and no project import
hidden inside a function (where it would hide one)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "voiceops"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in PACKAGE.rglob("*.py")}


def project_imports(node: ast.Import | ast.ImportFrom) -> list[str]:
    """The project modules an import statement loads."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names if alias.name in MODULES]
    if node.module is None or not node.module.startswith("voiceops"):
        return []
    submodules = [f"{node.module}.{alias.name}" for alias in node.names]
    return [name for name in submodules if name in MODULES] or [node.module]


def imports_of(path: Path) -> tuple[set[str], list[str]]:
    """Every project module a file imports, and the imports not at module level (with their line)."""
    tree = ast.parse(path.read_text())
    top = {id(node) for node in tree.body}
    imported: set[str] = set()
    nested: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            names = project_imports(node)
            imported.update(names)
            if id(node) not in top and names:
                nested.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno} imports {', '.join(names)}")
    return imported, nested


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    visiting: list[str] = []
    done: set[str] = set()

    def visit(name: str) -> list[str] | None:
        if name in visiting:
            return [*visiting[visiting.index(name) :], name]
        if name in done:
            return None
        visiting.append(name)
        for target in sorted(graph.get(name, ())):
            cycle = visit(target)
            if cycle:
                return cycle
        visiting.pop()
        done.add(name)
        return None

    for name in sorted(graph):
        cycle = visit(name)
        if cycle:
            return cycle
    return None


def test_no_project_import_inside_a_function():
    nested = [line for path in MODULES.values() for line in imports_of(path)[1]]
    assert nested == []


def test_the_package_has_no_import_cycle():
    graph = {name: imports_of(path)[0] - {name} for name, path in MODULES.items()}
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph) or [])


def test_the_cycle_finder_finds_the_cycle_this_package_once_had():
    graph = {
        "deploy": {"terraform", "cluster"},
        "terraform": {"deploy"},
        "cluster": {"deploy"},
        "smoke": set(),
    }
    assert find_cycle(graph) == ["cluster", "deploy", "cluster"]
    assert find_cycle({"runs": {"cluster"}, "cluster": set()}) is None
