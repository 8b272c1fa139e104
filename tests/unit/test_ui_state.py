"""The shape of ui/: its modules import each other without a cycle, and only the sidebar writes its widget keys (read from the source, nothing is run); the pages' state is tested in tests/app/test_ui_state.py."""

from __future__ import annotations

import ast
from pathlib import Path


from testkit.paths import REPO

UI = REPO / "ui"


def _ui_imports(path: Path) -> set[str]:
    """The ``ui`` modules a file imports, at the top or inside a function."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("ui.")}
        elif isinstance(node, ast.ImportFrom) and node.module:
            if node.module == "ui":
                out |= {f"ui.{a.name}" for a in node.names}
            elif node.module.startswith("ui."):
                out.add(node.module)
    return out


def test_ui_modules_import_each_other_without_a_cycle():
    graph = {f"ui.{p.stem}": _ui_imports(p) for p in UI.glob("*.py") if p.stem != "__init__"}
    done: set[str] = set()

    def visit(module: str, path: tuple[str, ...]) -> None:
        assert module not in path, "import cycle: " + " → ".join(path[path.index(module):] + (module,))
        if module in done:
            return
        for dep in graph.get(module, ()):
            visit(dep, path + (module,))
        done.add(module)

    for module in graph:
        visit(module, ())


def test_only_the_sidebar_writes_its_widget_keys():
    for path in [*UI.glob("*.py"), *(REPO / "pages").glob("*.py")]:
        if path.name == "sidebar.py":
            continue
        text = path.read_text(encoding="utf-8")
        assert "cohort_select" not in text and "run_select:" not in text, f"{path.name} touches the sidebar's widget keys"


def test_only_the_loaders_cache():
    """Caching lives in one place, ``ui/loaders.py`` (keys with file times, shared by every session)."""
    for path in [*UI.glob("*.py"), *(REPO / "pages").glob("*.py"), REPO / "app.py"]:
        if path.name == "loaders.py":
            continue
        text = path.read_text(encoding="utf-8")
        assert "st.cache_resource" not in text and "st.cache_data" not in text, f"{path.relative_to(REPO)} caches on its own: use ui.loaders"
