"""The shape of the code: no import cycles, function-level imports say why, no Streamlit in the library.

The checks read the source with ``ast`` (nothing is imported):

1. the graph of *module-level* imports between project modules (``lemof.*``, ``ui.*``) has no
   cycle. Imports under ``if TYPE_CHECKING:`` never run and are left out; ``from lemof.x import
   y`` is an edge to ``lemof.x.y`` when that is a module, else to ``lemof.x``; importing a module
   also runs its parent packages' ``__init__``, so those are edges too (except the importer's own
   ancestors, which are already importing);
2. every import of a project module inside a function carries a ``#`` comment on its line(s)
   saying why it is not at the top (``# lazy: imports torch``);
3. no module under ``lemof/`` imports ``streamlit``;
4. the ``lemof/`` root holds only the CLI, report, paths, errors, progress (and the package files).
"""

from __future__ import annotations

import ast
import io
import tokenize
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("lemof", "ui")
ROOT_MODULES = {"__init__.py", "__main__.py", "cli.py", "report.py", "paths.py", "errors.py", "progress.py"}
SUBPACKAGES = {"data", "models", "training", "evaluation", "runs", "plots", "explain", "audit", "deploy"}
# Cycles between ui/ modules that are known and being reworked elsewhere, as tuples of module
# names in cycle order starting from the smallest name. Empty: there are none today.
KNOWN_PENDING_UI_CYCLES: set[tuple[str, ...]] = set()


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _sources() -> dict[str, Path]:
    return {_module_name(p): p for pkg in PACKAGES for p in sorted((REPO / pkg).rglob("*.py"))}


def _is_project(name: str) -> bool:
    return name.split(".")[0] in PACKAGES


def _resolve(node: ast.Import | ast.ImportFrom, importer: str, modules: set[str]) -> list[str]:
    """Project modules an import statement loads (most specific names that exist)."""
    found: list[str] = []
    if isinstance(node, ast.Import):
        for alias in node.names:
            if _is_project(alias.name):
                found.append(alias.name)
        return found
    base = node.module or ""
    if node.level:  # relative import
        package = importer.split(".") if (REPO / Path(*importer.split("."))).is_dir() else importer.split(".")[:-1]
        package = package[: len(package) - (node.level - 1)]
        base = ".".join(package + ([base] if base else []))
    if not _is_project(base):
        return found
    subs = [f"{base}.{alias.name}" for alias in node.names if f"{base}.{alias.name}" in modules]
    found.extend(subs)
    if len(subs) < len(node.names):  # some names are attributes of ``base`` itself
        found.append(base)
    return found


def _with_parents(target: str, importer: str) -> list[str]:
    """``target`` and the packages above it whose ``__init__`` runs first (not the importer's own)."""
    parts = target.split(".")
    own = {".".join(importer.split(".")[: i + 1]) for i in range(len(importer.split(".")))}
    chain = [".".join(parts[: i + 1]) for i in range(len(parts))]
    return [m for m in chain if m not in own or m == target]


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(tree: ast.AST):
    """Yield ``(node, in_function)`` for every import, skipping ``if TYPE_CHECKING:`` blocks."""

    def walk(node: ast.AST, in_function: bool):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child.test):
                for sub in child.orelse:
                    yield from walk(ast.Module(body=[sub], type_ignores=[]), in_function)
                continue
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                yield child, in_function
            yield from walk(child, in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)))

    yield from walk(tree, False)


def _comment_lines(source: str) -> set[int]:
    return {tok.start[0] for tok in tokenize.generate_tokens(io.StringIO(source).readline) if tok.type == tokenize.COMMENT}


def _parsed():
    sources = _sources()
    for name, path in sources.items():
        text = path.read_text(encoding="utf-8")
        yield name, path, text, ast.parse(text, filename=str(path))


def import_graph() -> dict[str, set[str]]:
    """Module-level import edges between project modules."""
    modules = set(_sources())
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for name, _, _, tree in _parsed():
        for node, in_function in _imports(tree):
            if in_function:
                continue
            for target in _resolve(node, name, modules):
                for dep in _with_parents(target, name):
                    if dep in modules and dep != name:
                        graph[name].add(dep)
    return graph


def find_cycles(graph: dict[str, set[str]]) -> list[tuple[str, ...]]:
    """Every elementary cycle found by depth-first search, each rotated to start at its smallest name."""
    cycles: set[tuple[str, ...]] = set()
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str):
        state[node] = 1
        stack.append(node)
        for dep in sorted(graph.get(node, ())):
            if state.get(dep) == 1:
                cycle = stack[stack.index(dep):]
                i = cycle.index(min(cycle))
                cycles.add(tuple(cycle[i:] + cycle[:i]))
            elif dep not in state:
                visit(dep)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    return sorted(cycles)


def test_no_import_cycles():
    cycles = [c for c in find_cycles(import_graph()) if c not in KNOWN_PENDING_UI_CYCLES]
    text = "\n".join(" -> ".join(c + (c[0],)) for c in cycles)
    assert not cycles, f"import cycles between project modules:\n{text}"


def test_function_level_imports_say_why():
    missing = []
    modules = set(_sources())
    for name, path, text, tree in _parsed():
        comments = _comment_lines(text)
        for node, in_function in _imports(tree):
            if not in_function or not _resolve(node, name, modules):
                continue
            if not comments & set(range(node.lineno, (node.end_lineno or node.lineno) + 1)):
                missing.append(f"{path.relative_to(REPO)}:{node.lineno}: {ast.unparse(node)}")
    assert not missing, "function-level imports of project modules without a '# why' comment:\n" + "\n".join(missing)


def test_library_never_imports_streamlit():
    offenders = []
    for name, path, _, tree in _parsed():
        if not name.startswith("lemof"):
            continue
        for node in ast.walk(tree):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            if any(n.split(".")[0] == "streamlit" for n in names):
                offenders.append(f"{path.relative_to(REPO)}:{node.lineno}")
    assert not offenders, f"streamlit imported under lemof/: {offenders}"


def test_library_root_holds_only_the_allowed_modules():
    root = REPO / "lemof"
    modules = {p.name for p in root.glob("*.py")}
    packages = {p.name for p in root.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert modules <= ROOT_MODULES, f"modules at the lemof/ root that belong in a subpackage: {sorted(modules - ROOT_MODULES)}"
    assert packages <= SUBPACKAGES, f"unexpected packages under lemof/: {sorted(packages - SUBPACKAGES)}"


def test_the_checker_finds_a_cycle():
    assert find_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [("a", "b", "c")]
