"""The shape of the code, checked: no module of `triage` imports, directly or through others,
a module that imports it back.

import-linter's layers contract (`make lint`) keeps the layers in order; this test also catches
a cycle inside one layer (one service importing another that imports it back), at module level
or inside a function, since grimp reads every import statement of a file.
"""

import sys
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parent.parent


def _graph() -> grimp.ImportGraph:
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    return grimp.build_graph("triage", cache_dir=None)


def _cycles(imports: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan), each a cycle."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in sorted(imports[module]):
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == module:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for module in sorted(imports):
        if module not in index:
            visit(module)
    return groups


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_module_of_triage_imports_itself_back():
    graph = _graph()
    modules = {m for m in graph.modules if m == "triage" or m.startswith("triage.")}
    imports = {
        module: {m for m in graph.find_modules_directly_imported_by(module) if m in modules}
        for module in modules
    }
    cycles = _cycles(imports)
    described = [
        "; ".join(f"{a} → {b}" for a in group for b in sorted(imports[a]) if b in group)
        for group in cycles
    ]
    assert not cycles, "import cycles among triage modules:\n" + "\n".join(described)
