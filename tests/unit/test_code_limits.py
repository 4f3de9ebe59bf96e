"""Size limits of the product's code (issue #14): no function over 80 lines, no module over 600 lines.

A declarative table (a mapping, a list of rows) may be longer: the statement that holds it carries the comment
``# code-limits: declarative table`` on its first line, and its lines are not counted in the module's.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FOLDERS = ("include/company_sync", "dags", "plugins")  # relative to the project root
MAX_FUNCTION_LINES = 80
MAX_MODULE_LINES = 600
TABLE_MARKER = "# code-limits: declarative table"


def _files() -> list[Path]:
    return sorted(p for folder in FOLDERS for p in (ROOT / folder).rglob("*.py"))


def _table_lines(tree: ast.Module, lines: list[str]) -> int:
    """Lines of the module-level statements marked as declarative tables."""
    return sum(node.end_lineno - node.lineno + 1 for node in tree.body if TABLE_MARKER in lines[node.lineno - 1])


def _long_functions(tree: ast.Module) -> list[tuple[str, int]]:
    return [
        (node.name, node.end_lineno - node.lineno + 1)
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES
    ]


def test_the_folders_hold_code():
    assert _files(), FOLDERS


@pytest.mark.parametrize("path", _files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_functions_and_modules_within_limits(path: Path):
    text = path.read_text()
    lines = text.splitlines()
    tree = ast.parse(text)
    assert not _long_functions(tree), f"functions over {MAX_FUNCTION_LINES} lines: {_long_functions(tree)}"
    counted = len(lines) - _table_lines(tree, lines)
    assert counted <= MAX_MODULE_LINES, f"{counted} lines (declarative tables excluded) > {MAX_MODULE_LINES}"
