"""The package's import graph: no cycles, and no arrow from a lower layer to a higher one."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "pipelines"
# Lowest first; a module may import its own layer and the layers below it only.
LAYERS = (
    (
        "contract",
        "catalogue",
        "settings",
        "layout",
        "money",
        "redact",
        "csv_safe",
        "templating",
        "buckets",
    ),
    ("storage",),
    ("ingest", "quality", "rules", "casestore", "publish"),
    ("night", "kpis"),
    ("generator",),
    ("cli", "airflow", "web"),
)
EDGES = ("cli", "airflow", "web")
# The one crossing allowed between edges: `recon serve` starts the desk.
SERVE_DESK = {
    ("pipelines.cli.serve", "pipelines.web.app"),
    ("pipelines.cli.serve", "pipelines.web.config"),
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, name: str) -> set[str]:
    """Every pipelines module `path` imports, at any depth (function-level imports too)."""
    found = set()
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("pipelines"))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            if target.startswith("pipelines"):
                found.add(target)
                found.update(f"{target}.{a.name}" for a in node.names)
    return found


def _graph() -> dict[str, set[str]]:
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    return {  # the root package (`from pipelines import layout`) is nobody's dependency
        name: {i for i in _imports(path, name) if i in modules and i not in (name, "pipelines")}
        for name, path in modules.items()
        if name != "pipelines"
    }


def _layer(module: str) -> int:
    top = module.split(".")[1] if "." in module else ""
    for level, names in enumerate(LAYERS):
        if top in names:
            return level
    raise AssertionError(f"{module} belongs to no layer: add its package to LAYERS")


def test_every_module_belongs_to_a_layer() -> None:
    for module in _graph():
        _layer(module)


def test_no_import_goes_up_a_layer() -> None:
    upward = [
        f"{module} -> {target}"
        for module, targets in _graph().items()
        for target in targets
        if _layer(target) > _layer(module)
    ]
    assert upward == []


def test_edges_do_not_import_each_other() -> None:
    def edge(module: str) -> str | None:
        top = module.split(".")[1]
        return top if top in EDGES else None

    crossing = [
        f"{module} -> {target}"
        for module, targets in _graph().items()
        if edge(module)
        for target in targets
        if edge(target) and edge(target) != edge(module) and (module, target) not in SERVE_DESK
    ]
    assert crossing == []


def test_the_import_graph_has_no_cycle() -> None:
    graph = _graph()
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            # a package importing its own submodules (re-exports) is not a cycle of design
            if nxt.startswith(node + "."):
                continue
            if state.get(nxt) == 1:
                cycles.append([*path[path.index(nxt) :], nxt] if nxt in path else [node, nxt])
            elif nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert cycles == []


@pytest.mark.parametrize("module", ["pipelines.night", "pipelines.casestore"])
def test_the_engine_does_not_load_the_command_line(module: str) -> None:
    import subprocess
    import sys

    loaded = "sorted(m for m in ('click', 'pipelines.cli') if m in sys.modules)"
    code = f"import sys, {module}; print({loaded})"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_tests_share_helpers_only_through_tests_support() -> None:
    """A test module imports no other test module (nor conftest): shared helpers live in
    tests/support/."""
    crossings = []
    for path in sorted((PACKAGE.parent / "tests").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom) and node.level == 0
                else []
            )
            for name in names:
                if name.startswith("tests") and not name.startswith("tests.support"):
                    crossings.append(f"{path.relative_to(PACKAGE.parent)} imports {name}")
    assert crossings == []
