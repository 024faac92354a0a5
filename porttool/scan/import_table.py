"""A light per-file alias table: which local names stand for which modules and objects.

Built from the file's import statements alone (at any depth), never by scope analysis: that is
what keeps a scan fast (see PERFORMANCE_NOTES.md). What it misses — a name re-bound after import,
an import hidden in `exec`, a star import — is listed in the rules' known problems.
"""

from __future__ import annotations

import ast
import bisect
from collections import deque
from collections.abc import Iterator, Sequence

_BLOCK = (ast.stmt, ast.excepthandler, ast.match_case)


def line_numbers(source: str, offsets: Sequence[int]) -> list[int]:
    """The 1-based line of each of the sorted `offsets`, counted as `ast` counts lines."""
    lines: list[int] = []
    line, last = 1, 0
    lone_cr = "\r" in source  # `ast` also ends a line at a lone "\r"
    for offset in offsets:
        line += source.count("\n", last, offset)
        if lone_cr:
            line += source.count("\r", last, offset) - source.count("\r\n", last, offset)
        last = offset
        lines.append(line)
    return lines


def word_lines(source: str, word: str) -> list[int]:
    """The sorted numbers of the lines `word` appears on."""
    offsets = []
    at = source.find(word)
    while at != -1:
        offsets.append(at)
        at = source.find(word, at + 1)
    return line_numbers(source, offsets)


def holds_line(lines: Sequence[int], node: ast.stmt) -> bool:
    """Does this statement (its decorators included) span one of the sorted `lines`?"""
    start = node.lineno
    decorators = getattr(node, "decorator_list", None)
    if decorators:
        start = min(start, *(d.lineno for d in decorators))
    i = bisect.bisect_left(lines, start)
    return i < len(lines) and lines[i] <= (node.end_lineno or start)


def _statements(tree: ast.AST, lines: Sequence[int] | None = None) -> Iterator[ast.AST]:
    """Every statement, in `ast.walk`'s breadth-first order, without visiting expressions; with
    `lines`, only the statements that span one of them (and the blocks inside those).

    Imports are statements, and statements nest only in statement blocks; skipping the expression
    nodes (most of a tree) makes this table about ten times cheaper to build than a full walk.
    """
    todo = deque([tree])
    while todo:
        node = todo.popleft()
        if lines is not None and isinstance(node, ast.stmt) and not holds_line(lines, node):
            continue
        yield node
        for name in node._fields:
            value = getattr(node, name, None)
            if isinstance(value, list) and value and isinstance(value[0], _BLOCK):
                todo.extend(value)


class ImportTable:
    """Maps a local name to the qualified name it was imported as."""

    def __init__(self, tree: ast.AST, source: str | None = None) -> None:
        """With the `source`, only statements spanning a line that spells `import` are walked."""
        self.aliases: dict[str, str] = {}
        for node in _statements(tree, word_lines(source, "import") if source is not None else None):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.asname:
                        self.aliases[alias.asname] = alias.name
                    else:
                        head = alias.name.split(".", 1)[0]
                        self.aliases[head] = head
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                for alias in node.names:
                    if alias.name == "*":
                        continue
                    self.aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"

    def qualify(self, node: ast.AST) -> str | None:
        """The qualified name of a `Name` or dotted `Attribute` chain, if it starts at an import."""
        parts: list[str] = []
        while isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        if not isinstance(node, ast.Name):
            return None
        base = self.aliases.get(node.id)
        if base is None:
            return None
        parts.append(base)
        return ".".join(reversed(parts))

    def is_module_path(self, node: ast.AST) -> bool:
        """True when `node` names an imported module or object (so `x.cuda()` on it is no method call)."""
        return self.qualify(node) is not None
