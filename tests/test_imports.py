"""Architecture guards: one-way imports, no streamlit in the core, no import-time side effects."""

import subprocess
import sys

import pytest


@pytest.mark.parametrize("package", ["kb", "ingest", "eval"])
def test_core_packages_do_not_import_streamlit_or_the_app(package):
    code = (
        "import importlib, pkgutil, sys\n"
        f"pkg = importlib.import_module('{package}')\n"
        "for m in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + '.'):\n"
        "    importlib.import_module(m.name)\n"
        "bad = [m for m in sys.modules if m == 'streamlit' or m.startswith('streamlit.') or m == 'app' or m.startswith('app.')]\n"
        "assert not bad, bad\n"
        "heavy = [m for m in ('torch', 'sentence_transformers') if m in sys.modules]\n"
        "print(heavy)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_kb_imports_none_of_ingest_eval_app():
    code = ("import importlib, pkgutil, sys, kb\n"
            "for m in pkgutil.walk_packages(kb.__path__, 'kb.'):\n"
            "    importlib.import_module(m.name)\n"
            "bad = [m for m in sys.modules if m.split('.')[0] in ('ingest', 'eval', 'app')]\n"
            "assert not bad, bad\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_importing_the_core_loads_no_model():
    code = "import kb.retrieval, kb.embedder, ingest.pipeline, sys; assert 'torch' not in sys.modules, 'torch loaded'"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


ALLOWED = {"kb": set(), "ingest": {"kb"}, "eval": {"kb"}}


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_one_way_imports_including_lazy_ones(package):
    """Static check: even imports inside functions follow app -> kb, ingest, eval; ingest -> kb; eval -> kb."""
    import ast
    from pathlib import Path

    project = {"kb", "ingest", "eval", "app"}
    root = Path(__file__).resolve().parents[1] / package
    bad = []
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) and node.level == 0 else [])
            for name in names:
                top = name.split(".")[0]
                if top in project and top != package and top not in ALLOWED[package]:
                    bad.append(f"{path.relative_to(root.parent)}:{node.lineno} imports {name}")
    assert not bad, bad
