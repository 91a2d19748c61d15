"""The top-level parts of `wharf.platform` import each other in one direction only.

A part is the first name after `wharf.platform` (a folder like `builds`, or a module like
`settings`). Imports inside functions count too: a lazy import still couples the two parts.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from pathlib import Path

PACKAGE = "wharf.platform"
PACKAGE_DIR = Path(__file__).resolve().parents[1] / "platform" / "wharf" / "platform"

Graph = Mapping[str, Mapping[str, list[str]]]


def part_of(module: str) -> str | None:
    """The top-level part of `wharf.platform` that `module` belongs to, if any."""
    prefix = PACKAGE + "."
    if not module.startswith(prefix):
        return None
    return module[len(prefix) :].split(".", 1)[0]


def top_level_parts(package_dir: Path) -> set[str]:
    return {path.stem for path in package_dir.iterdir() if path.suffix == ".py" or path.is_dir()}


def module_name(path: Path, package_dir: Path) -> list[str]:
    parts = list(path.relative_to(package_dir).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return [*PACKAGE.split("."), *parts]


def imported_modules(node: ast.AST, here: list[str], is_package: bool) -> Iterator[str]:
    """Every module an import statement names, with relative imports made absolute."""
    if isinstance(node, ast.Import):
        yield from (alias.name for alias in node.names)
    elif isinstance(node, ast.ImportFrom):
        if node.level:
            base = here if is_package else here[:-1]
            base = base[: len(base) - (node.level - 1)]
            module = ".".join([*base, *([node.module] if node.module else [])])
        else:
            module = node.module or ""
        yield module
        yield from (f"{module}.{alias.name}" for alias in node.names)


def import_graph(package_dir: Path = PACKAGE_DIR) -> dict[str, dict[str, list[str]]]:
    """Part -> imported part -> the `file:line module` imports that make the edge."""
    parts = top_level_parts(package_dir)
    graph: dict[str, dict[str, list[str]]] = {}
    for path in sorted(package_dir.rglob("*.py")):
        here = module_name(path, package_dir)
        source = part_of(".".join(here))
        if source is None:
            continue
        graph.setdefault(source, {})
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            for module in imported_modules(node, here, path.name == "__init__.py"):
                target = part_of(module)
                if target in parts and target != source:
                    where = f"{path.relative_to(package_dir)}:{getattr(node, 'lineno', 0)} {module}"
                    add_edge(graph, source, target, where)
    return graph


def add_edge(graph: dict[str, dict[str, list[str]]], source: str, target: str, where: str) -> None:
    sites = graph[source].setdefault(target, [])
    if not any(where.startswith(site) for site in sites):
        sites.append(where)


def import_cycles(graph: Graph) -> list[list[str]]:
    """Strongly connected components with more than one part (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for successor in graph.get(node, {}):
            if successor not in index:
                visit(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(cycles)


def shortest_loop(start: str, members: set[str], graph: Graph) -> list[str]:
    """The shortest import path from `start` back to itself inside one component."""
    paths = {start: [start]}
    queue = [start]
    for node in queue:
        for successor in sorted(graph.get(node, {})):
            if successor == start:
                return [*paths[node], start]
            if successor in members and successor not in paths:
                paths[successor] = [*paths[node], successor]
                queue.append(successor)
    return [start]


def describe(cycle: list[str], graph: Graph) -> str:
    members = set(cycle)
    loops = sorted({" -> ".join(shortest_loop(start, members, graph)) for start in cycle})
    edges = [
        f"  {source} -> {target}: {'; '.join(graph[source][target])}"
        for source in cycle
        for target in sorted(graph.get(source, {}))
        if target in members
    ]
    return "\n".join([" <-> ".join(cycle), *(f"  loop: {loop}" for loop in loops), *edges])


def test_the_top_level_parts_of_the_platform_import_each_other_without_cycles() -> None:
    graph = import_graph()
    assert {"builds", "scheduler", "logs", "settings"} <= set(graph)
    cycles = import_cycles(graph)
    assert not cycles, "import cycles between parts of wharf.platform:\n" + "\n".join(
        describe(cycle, graph) for cycle in cycles
    )


def test_the_detector_finds_a_planted_cycle_of_three_and_ignores_a_chain() -> None:
    planted: dict[str, dict[str, list[str]]] = {
        "a": {"b": ["a.py:1 b"]},
        "b": {"c": ["b.py:1 c"]},
        "c": {"a": ["c.py:1 a"], "d": ["c.py:2 d"]},
        "d": {},
        "e": {"d": ["e.py:1 d"]},
    }
    assert import_cycles(planted) == [["a", "b", "c"]]
    assert "c -> a: c.py:1 a" in describe(["a", "b", "c"], planted)
    assert "loop: a -> b -> c -> a" in describe(["a", "b", "c"], planted)
    del planted["c"]["a"]
    assert import_cycles(planted) == []


def test_the_graph_sees_imports_inside_functions(tmp_path: Path) -> None:
    (tmp_path / "one").mkdir()
    (tmp_path / "one" / "__init__.py").write_text("")
    (tmp_path / "one" / "lazy.py").write_text("def f():\n    from wharf.platform.two import x\n")
    (tmp_path / "two.py").write_text("from wharf.platform import one\n")
    graph = import_graph(tmp_path)
    assert graph["one"] == {"two": ["one/lazy.py:2 wharf.platform.two"]}
    assert import_cycles(graph) == [["one", "two"]]


ENTRY_POINTS = {
    "web.api": PACKAGE_DIR / "web" / "api",
    "web.dashboard": PACKAGE_DIR / "web" / "dashboard",
    "web.git_http": PACKAGE_DIR / "web" / "git_http.py",
    "git.hook": PACKAGE_DIR / "git" / "hook.py",
    "wharfd": PACKAGE_DIR / "wharfd.py",
}
# Where an entry point's code lives besides its own path: wharfd's subcommands, by group.
ENTRY_POINT_PARTS = {"wharfd": ["wharfd_cli"]}


def entry_point_imports(name: str) -> list[str]:
    """`file:line module` for each import of another entry point by the entry point `name`."""
    roots = [ENTRY_POINTS[name], *(PACKAGE_DIR / part for part in ENTRY_POINT_PARTS.get(name, []))]
    others = [
        f"{PACKAGE}.{module}"
        for other in ENTRY_POINTS
        if other != name
        for module in [other, *ENTRY_POINT_PARTS.get(other, [])]
    ]
    found = []
    paths = [path for root in roots for path in (sorted(root.rglob("*.py")) if root.is_dir() else [root])]
    for path in paths:
        here = module_name(path, PACKAGE_DIR)
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            for module in imported_modules(node, here, path.name == "__init__.py"):
                if any(module == other or module.startswith(other + ".") for other in others):
                    found.append(f"{path.relative_to(PACKAGE_DIR)}:{getattr(node, 'lineno', 0)} {module}")
    return found


def test_no_entry_point_imports_another() -> None:
    """The API, dashboard, git endpoints and wharfd share actions, never each other's route functions.

    `wharfd` starts the web application, so it may import `web.main`, which is no entry point itself.
    """
    found = {name: entry_point_imports(name) for name in ENTRY_POINTS}
    assert found == {name: [] for name in ENTRY_POINTS}
