"""setup.py, read with `ast` (never imported or run): the requirement strings a `setup(...)` call
is given.

`install_requires`, `setup_requires`, `tests_require` (a list or tuple of strings), `extras_require`
(a dict of them) and `dependency_links` (URLs), written inline or as a module-level name
(`REQUIRED = [...]`, `install_requires=REQUIRED`), lists joined with `+` included. What is
computed at run time (read from a file, built in a loop) is not seen.
"""

from __future__ import annotations

import ast

from porttool.model import Span
from porttool.scan.manifests.entries import INDEX, Entry, Manifest
from porttool.scan.manifests.requirements import requirement_entry

REQUIREMENT_KEYWORDS = {"install_requires", "setup_requires", "tests_require"}


def parse_setup_py(text: str) -> Manifest:
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return Manifest()  # the Python scan reports the syntax error (PT902)
    lines = text.splitlines()
    assigned: dict[str, ast.expr] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            assigned[node.targets[0].id] = node.value
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
            assigned[node.target.id] = node.value
    entries: list[Entry] = []
    for call in ast.walk(tree):
        if not (isinstance(call, ast.Call) and _is_setup(call.func)):
            continue
        for keyword in call.keywords:
            if keyword.arg in REQUIREMENT_KEYWORDS:
                entries += [e for s in _strings(keyword.value, assigned) if (e := _requirement(s, lines)) is not None]
            elif keyword.arg == "extras_require":
                value = _resolve(keyword.value, assigned)
                if isinstance(value, ast.Dict):
                    for item in value.values:
                        entries += [e for s in _strings(item, assigned) if (e := _requirement(s, lines)) is not None]
            elif keyword.arg == "dependency_links":
                entries += [Entry(INDEX, str(s.value), _inner_span(s, lines)) for s in _strings(keyword.value, assigned)]
    return Manifest(tuple(entries))


def _is_setup(func: ast.expr) -> bool:
    return (isinstance(func, ast.Name) and func.id == "setup") or (isinstance(func, ast.Attribute) and func.attr == "setup")


def _resolve(node: ast.expr, assigned: dict[str, ast.expr], depth: int = 0) -> ast.expr:
    while isinstance(node, ast.Name) and node.id in assigned and depth < 10:
        node, depth = assigned[node.id], depth + 1
    return node


def _strings(node: ast.expr, assigned: dict[str, ast.expr], depth: int = 0) -> list[ast.Constant]:
    """The string constants of a literal list/tuple (through names and `+`)."""
    if depth > 10:
        return []
    node = _resolve(node, assigned)
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        return [e for e in node.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)]
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _strings(node.left, assigned, depth + 1) + _strings(node.right, assigned, depth + 1)
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node]
    return []


def _column(lines: list[str], line: int, byte_offset: int) -> int:
    """`ast` columns are UTF-8 byte offsets; findings count characters."""
    text = lines[line - 1] if 0 < line <= len(lines) else ""
    return len(text.encode("utf-8")[:byte_offset].decode("utf-8", "replace"))


def _span(node: ast.Constant, lines: list[str]) -> Span:
    end_line = node.end_lineno or node.lineno
    return Span(node.lineno, _column(lines, node.lineno, node.col_offset), end_line, _column(lines, end_line, node.end_col_offset or 0))


def _inner(node: ast.Constant, lines: list[str]) -> tuple[str, int] | None:
    """The text between a one-line string's quotes and its column, when it is exactly the value
    (no escapes, no implicit concatenation); else None."""
    span = _span(node, lines)
    if span.line != span.end_line:
        return None
    written = lines[span.line - 1][span.column : span.end_column]
    bare = written.lstrip("rRuU")
    quote = next((q for q in ('"""', "'''", '"', "'") if bare.startswith(q)), None)
    if quote is None:
        return None
    opening = len(written) - len(bare) + len(quote)
    inner = written[opening : len(written) - len(quote)]
    return (inner, span.column + opening) if inner == node.value else None


def _inner_span(node: ast.Constant, lines: list[str]) -> Span:
    inner = _inner(node, lines)
    if inner is None:
        return _span(node, lines)
    text, column = inner
    return Span(node.lineno, column, node.lineno, column + len(text))


def _requirement(node: ast.Constant, lines: list[str]) -> Entry | None:
    inner = _inner(node, lines)
    if inner is not None:  # exact positions inside the string
        return requirement_entry(inner[0], node.lineno, inner[1])
    parsed = requirement_entry(str(node.value), 1, 0)
    return None if parsed is None else Entry(parsed.kind, parsed.name, _span(node, lines), parsed.version)
