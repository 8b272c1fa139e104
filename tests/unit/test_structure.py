"""The shape of the code: packages in layers, no import cycles, function-level imports say why, no
Streamlit in the library.

The checks read the source with ``ast`` (nothing is imported). Project modules are those of
``lemof/``, ``ui/`` and ``pages/``.

1. **Layers.** ``LAYERS`` below is the order of the packages, lowest first: a package may import
   only itself and the packages before it. *Every* import counts — at module level, inside a
   function, and under ``if TYPE_CHECKING:``. A package is a subpackage of ``lemof`` (its modules
   together), a module at the ``lemof/`` root, ``lemof`` itself (the public API of
   ``lemof/__init__.py``), ``ui`` or ``pages``. Every package must have its place in the list.
2. **No cycle between modules**, counting every import as in 1 (``from lemof.x import y`` is an
   edge to ``lemof.x.y`` when that is a module, else to ``lemof.x``).
3. **No cycle at import time**: the graph of *module-level* imports, where importing a module also
   runs its parent packages' ``__init__`` (except the importer's own ancestors, which are already
   importing); imports under ``if TYPE_CHECKING:`` never run and are left out.
4. Every import of a project module inside a function carries a ``#`` comment on its line(s)
   saying why it is not at the top (``# lazy: imports torch``).
5. No module under ``lemof/`` imports ``streamlit``.
6. The ``lemof/`` root holds only the CLI, report, paths, errors, progress, version (and the
   package files); every folder of ``lemof/`` with Python files is a package (has ``__init__.py``).
7. A run's stored predictions (``predictions.parquet``) are named once (``PREDICTIONS_FILE``),
   read once (``lemof/runs/load.py``) and reached from outside ``lemof/runs/`` only through the
   ``Run``'s readers (``stored_rows``, ``stored_prediction``), never through its table.
"""

from __future__ import annotations

import ast
import io
import tokenize
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]  # tests/unit/ -> the repository
PACKAGES = ("lemof", "ui", "pages")
ROOT_MODULES = {"__init__.py", "__main__.py", "cli.py", "report.py", "paths.py", "errors.py", "progress.py", "version.py"}
SUBPACKAGES = {"data", "ecg", "models", "training", "evaluation", "runs", "plots", "explain", "audit", "deploy", "reviews"}

# The packages in layers, lowest first: each may import only itself and those above it in this
# list (docs/ARCHITECTURE.md draws it).
LAYERS = (
    "lemof.errors",  # the user-facing errors
    "lemof.paths",  # safe paths, atomic writes, the cache folder
    "lemof.progress",  # progress reporting
    "lemof.version",  # the library's version
    "lemof.audit",  # the audit log
    "lemof.deploy",  # who may use the app, the server's settings
    "lemof.data",  # cohort bundles, their loaders, what each cohort family knows
    "lemof.ecg",  # ECG records (WFDB) and their measurements (neurokit2)
    "lemof.models",  # what a network is and how it is built (torch only when one is)
    "lemof.runs",  # the run directory: its files and their formats, loading and saving; the catalog
    "lemof.evaluation",  # metrics, a run's predictions on a cohort, comparisons, the cohort view
    "lemof.explain",  # per-stay explanations and the level-concept probes
    "lemof.reviews",  # the clinicians' reviews of stays, in a database (SQLAlchemy, Alembic); the worklist and its analysis
    "lemof.training",  # training a run
    "lemof.plots",  # Plotly figures
    "lemof",  # the public API (lemof/__init__.py)
    "lemof.report",  # the case report
    "lemof.cli",  # python -m lemof
    "lemof.__main__",
    "ui",  # the app's views (Streamlit)
    "pages",  # the app's pages
)


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


def _imports(tree: ast.AST, *, type_checking: bool = False):
    """Yield ``(node, in_function)`` for every import; ``if TYPE_CHECKING:`` blocks only with ``type_checking``."""

    def walk(node: ast.AST, in_function: bool):
        for child in ast.iter_child_nodes(node):
            if not type_checking and isinstance(child, ast.If) and _is_type_checking(child.test):
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


def every_import() -> list[tuple[str, str, str]]:
    """``(importer, imported, "path:line")`` for every import between project modules: module
    level, inside functions and under ``TYPE_CHECKING`` alike (parent packages are not added)."""
    modules = set(_sources())
    edges = []
    for name, path, _, tree in _parsed():
        for node, _ in _imports(tree, type_checking=True):
            for target in _resolve(node, name, modules):
                if target != name:
                    edges.append((name, target, f"{path.relative_to(REPO)}:{node.lineno}"))
    return edges


def package_of(module: str) -> str:
    """The layer unit of ``module``: ``lemof.<subpackage>``, a ``lemof`` root module, ``lemof``, ``ui`` or ``pages``."""
    parts = module.split(".")
    if parts[0] != "lemof":
        return parts[0]
    if len(parts) == 1:
        return "lemof"
    return f"lemof.{parts[1]}"


def package_graph() -> dict[str, set[str]]:
    """Imports between packages (``package_of``), every import counted."""
    graph: dict[str, set[str]] = {package_of(m): set() for m in _sources()}
    for importer, imported, _ in every_import():
        a, b = package_of(importer), package_of(imported)
        if a != b:
            graph[a].add(b)
    return graph


def layer_violations(edges: list[tuple[str, str, str]], layers: tuple[str, ...] = LAYERS) -> list[str]:
    """The imports of a package from one at a higher layer (or from one ``layers`` does not place)."""
    rank = {p: i for i, p in enumerate(layers)}
    bad = []
    for importer, imported, where in edges:
        a, b = package_of(importer), package_of(imported)
        if a != b and (a not in rank or b not in rank or rank[b] > rank[a]):
            bad.append(f"{where}: {a} imports {b} ({importer} -> {imported})")
    return bad


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


def _cycle_text(cycles: list[tuple[str, ...]]) -> str:
    return "\n".join(" -> ".join(c + (c[0],)) for c in cycles)


def test_every_package_has_its_layer():
    missing = sorted(set(package_graph()) - set(LAYERS))
    assert not missing, f"packages without a place in LAYERS (add them where their imports put them): {missing}"
    assert len(set(LAYERS)) == len(LAYERS)


def test_packages_import_only_lower_layers():
    bad = layer_violations(every_import())
    assert not bad, "imports against the package order (LAYERS: a package imports only those before it):\n" + "\n".join(bad)


def test_no_package_cycles():
    cycles = find_cycles(package_graph())
    assert not cycles, f"import cycles between packages (every import counted):\n{_cycle_text(cycles)}"


def test_no_module_cycles_counting_every_import():
    graph: dict[str, set[str]] = {m: set() for m in _sources()}
    for importer, imported, _ in every_import():
        if imported in graph:
            graph[importer].add(imported)
    cycles = find_cycles(graph)
    assert not cycles, f"import cycles between project modules (every import counted):\n{_cycle_text(cycles)}"


def test_no_import_cycles():
    cycles = find_cycles(import_graph())
    assert not cycles, f"import cycles between project modules at import time:\n{_cycle_text(cycles)}"


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
    folders = {p.parent for p in root.rglob("*.py")}
    not_packages = sorted(str(d.relative_to(REPO)) for d in folders if not (d / "__init__.py").exists())
    assert not not_packages, f"folders of lemof/ without __init__.py (the checks above would skip them): {not_packages}"


def test_the_checker_finds_a_cycle():
    assert find_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [("a", "b", "c")]


def test_the_checker_finds_an_import_against_the_order():
    assert package_of("lemof.runs.load") == "lemof.runs" and package_of("lemof.cli") == "lemof.cli"
    assert package_of("lemof") == "lemof" and package_of("ui.case") == "ui"
    edges = [("lemof.runs.run", "lemof.models.spec", "a:1"), ("lemof.models.spec", "lemof.runs.run", "b:2"), ("lemof.runs.run", "lemof.runs.load", "c:3")]
    assert layer_violations(edges, ("lemof.models", "lemof.runs")) == ["b:2: lemof.models imports lemof.runs (lemof.models.spec -> lemof.runs.run)"]


def test_stored_predictions_are_read_in_one_place():
    named, uses, touches = [], [], []
    for name, path, _, tree in _parsed():
        where = f"{path.relative_to(REPO)}"
        calls = {id(arg): ast.unparse(node.func) for node in ast.walk(tree) if isinstance(node, ast.Call) for a in node.args for arg in ast.walk(a)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and node.value == "predictions.parquet":
                named.append(where)
            if (isinstance(node, ast.Name) and node.id == "PREDICTIONS_FILE") or (isinstance(node, ast.Attribute) and node.attr == "PREDICTIONS_FILE"):
                uses.append((where, calls.get(id(node), "")))
            if isinstance(node, ast.Attribute) and node.attr == "predictions" and not name.startswith("lemof.runs") and not ast.unparse(node).startswith("lemof."):
                touches.append(f"{where}:{node.lineno}: {ast.unparse(node)}")
    assert named == ["lemof/runs/layout.py"], f"the file name spelled outside PREDICTIONS_FILE: {named}"
    reads = [u for u in uses if "read" in u[1]]
    assert reads == [("lemof/runs/load.py", "_read_parquet")], f"predictions.parquet read in several places: {reads}"
    assert {w for w, _ in uses} <= {"lemof/runs/layout.py", "lemof/runs/load.py", "lemof/runs/save.py"}, f"PREDICTIONS_FILE used outside the run directory's reader and writer: {uses}"
    assert not touches, "the stored predictions reached past the Run's readers (stored_rows, stored_prediction):\n" + "\n".join(touches)
