"""The layout rules of the codebase (issue 10), checked on whatever modules exist.

- no function in phasescope/ longer than 60 lines, no module longer than 450 lines;
- world/ imports nothing from phasescope.train;
- analysis/, report/ and runlog/ import neither torch nor phasescope.train (they read logs anywhere).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parent.parent / "phasescope"
MAX_FUNCTION_LINES = 60
MAX_MODULE_LINES = 450
FORBIDDEN = {
    "world": ("phasescope.train",),
    "analysis": ("torch", "phasescope.train"),
    "report": ("torch", "phasescope.train"),
    "runlog": ("torch", "phasescope.train"),
}


# Modules another change is rewriting when this test was written; remove an entry once it passes.
PENDING: dict[str, str] = {}  # module path -> reason, for a known breach being fixed elsewhere


def modules() -> list:
    return [
        pytest.param(p, marks=pytest.mark.xfail(reason=PENDING[rel], strict=False)) if rel in PENDING else p
        for p in sorted(PKG.rglob("*.py"))
        for rel in [p.relative_to(PKG).as_posix()]
    ]


def imported(tree: ast.AST) -> set[str]:
    """Every module an import statement names (at any depth, lazy imports included)."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)
    return names


def long_functions(tree: ast.AST, limit: int) -> list[tuple[str, int]]:
    return [
        (node.name, node.end_lineno - node.lineno + 1)
        for node in ast.walk(tree)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        and node.end_lineno - node.lineno + 1 > limit
    ]


def breaks(name: str, forbidden: tuple[str, ...]) -> bool:
    return any(name == f or name.startswith(f + ".") for f in forbidden)


def test_the_checks_catch_what_they_are_for():
    tree = ast.parse(
        "def f():\n"
        + "    x = 1\n" * 61
        + "\ndef g():\n    from torch import nn\n    import phasescope.train.train_one\n"
    )
    assert long_functions(tree, MAX_FUNCTION_LINES) == [("f", 62)]
    bad = sorted(n for n in imported(tree) if breaks(n, ("torch", "phasescope.train")))
    assert bad == ["phasescope.train.train_one", "torch", "torch.nn"]


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(PKG)))
def test_module_and_function_sizes(path):
    text = path.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= MAX_MODULE_LINES, f"{path.name} has more than {MAX_MODULE_LINES} lines"
    assert long_functions(ast.parse(text), MAX_FUNCTION_LINES) == []


@pytest.mark.parametrize("folder", sorted(FORBIDDEN))
def test_layers_import_only_downwards(folder):
    found = []
    for path in sorted((PKG / folder).rglob("*.py")):
        names = imported(ast.parse(path.read_text(encoding="utf-8")))
        found += [f"{path.name}: {n}" for n in sorted(names) if breaks(n, FORBIDDEN[folder])]
    assert found == []
