"""The shape of Crate's imports: one direction (web -> tasks -> services), and no cycles.

Every import counts, including those inside functions: an import moved into a function
still ties the two modules together, it only hides the cycle until the call.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("web", "tasks", "services")
ROOT_MODULES = ("piccolo_conf",)


def project_modules() -> dict[str, Path]:
    """Every module of the project by dotted name (migrations excluded: Piccolo writes them)."""
    modules = {name: ROOT / f"{name}.py" for name in ROOT_MODULES}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "piccolo_migrations" in path.parts:
                continue
            parts = path.relative_to(ROOT).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules[".".join(parts)] = path
    return modules


def import_graph() -> dict[str, set[str]]:
    """module -> the project modules it imports anywhere in its body."""
    modules = project_modules()
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                    base = ".".join([*anchor, *([base] if base else [])])
                targets.add(base)
                # `from services import db` imports the module services.db.
                targets.update(f"{base}.{alias.name}" for alias in node.names)
        graph[name] = {target for target in targets if target in modules} - {name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component: list[str] = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def describe(component: list[str], graph: dict[str, set[str]]) -> str:
    members = set(component)
    edges = [
        f"{source} -> {target}"
        for source in component
        for target in sorted(graph[source] & members)
    ]
    return "; ".join(edges)


# Cycles known and being untangled (the test below says when one is gone): none now.
PENDING: list[list[str]] = []


def test_no_module_imports_another_that_imports_it_back() -> None:
    graph = import_graph()
    assert "tasks.broker" in graph and "services.db" in graph  # the walk found the project
    found = cycles(graph)
    unexpected = [component for component in found if component not in PENDING]
    assert not unexpected, "import cycles: " + " | ".join(
        describe(component, graph) for component in unexpected
    )
    settled = [component for component in PENDING if component not in found]
    assert not settled, f"no longer a cycle, delete it from PENDING in {__file__}: {settled}"


def test_imports_point_one_way() -> None:
    """web -> tasks -> services: services imports neither, tasks never imports web, and
    nothing outside web imports web."""
    allowed = {
        "services": ("services",),
        "tasks": ("tasks", "services"),
        "web": ("web", "tasks", "services"),
        "piccolo_conf": ("services",),
    }
    wrong = [
        f"{source} -> {target}"
        for source, targets in import_graph().items()
        for target in sorted(targets)
        if target.split(".")[0] != "piccolo_conf"
        and target.split(".")[0] not in allowed[source.split(".")[0]]
    ]
    assert not wrong, f"imports against web -> tasks -> services: {wrong}"


def test_the_cycle_check_sees_cycles() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert cycles(graph) == [["a", "b", "c"]]
    assert describe(["a", "b", "c"], graph) == "a -> b; b -> c; c -> a"
