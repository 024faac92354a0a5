"""Find the libcst node for a site the `ast` scan located (by type and position)."""

from __future__ import annotations

from collections.abc import Mapping

import libcst as cst

from porttool.model import Site


CST_TYPES: dict[str, tuple[type[cst.CSTNode], ...]] = {
    "Call": (cst.Call,),
    "Attribute": (cst.Attribute,),
    "Name": (cst.Name,),
    "Assign": (cst.Assign,),
    "AugAssign": (cst.AugAssign,),
    "AnnAssign": (cst.AnnAssign,),
    "keyword": (cst.Arg,),
    "arg": (cst.Arg,),
    "Constant": (cst.SimpleString, cst.ConcatenatedString, cst.Integer, cst.Float, cst.Name),
    "JoinedStr": (cst.FormattedString,),
    "BinOp": (cst.BinaryOperation,),
    "IfExp": (cst.IfExp,),
    "If": (cst.If,),
    "List": (cst.List,),
    "Tuple": (cst.Tuple,),
    "Set": (cst.Set,),
    "Compare": (cst.Comparison,),
    "Import": (cst.Import,),
    "Assert": (cst.Assert,),
    "ImportFrom": (cst.ImportFrom,),
}


_LOCATED_TYPES = frozenset({cst.Expr, *(t for types in CST_TYPES.values() for t in types)})
_LOCATED_KINDS: dict[type, tuple[bool, bool]] = {}  # type → (a site's type or Expr, a statement)


class Locator:
    """Find the libcst node for an ast-located site: the smallest node of the right type around it."""

    def __init__(self, positions: Mapping[cst.CSTNode, object]) -> None:
        self.by_type: dict[type, list[tuple[tuple[int, int], tuple[int, int], cst.CSTNode]]] = {}
        self.statements: list[tuple[tuple[int, int], tuple[int, int], cst.CSTNode]] = []
        # per type, per start line: (order, start, end, node); `find` looks only at the lines
        # that can hold a smaller node than the best so far (same answer as a scan of them all)
        self._by_line: dict[type, dict[int, list[tuple[int, tuple[int, int], tuple[int, int], cst.CSTNode]]]] = {}
        self._max_column = 0
        kinds = _LOCATED_KINDS
        for order, (node, rng) in enumerate(positions.items()):
            kind = kinds.get(type(node))
            if kind is None:
                kind = kinds[type(node)] = (type(node) in _LOCATED_TYPES, isinstance(node, (cst.SimpleStatementLine, cst.BaseCompoundStatement)))
            if not kind[0] and not kind[1]:
                continue  # (no site is ever located on a node of this type)
            start = (rng.start.line, rng.start.column)  # type: ignore[attr-defined]
            end = (rng.end.line, rng.end.column)  # type: ignore[attr-defined]
            self.by_type.setdefault(type(node), []).append((start, end, node))
            self._by_line.setdefault(type(node), {}).setdefault(start[0], []).append((order, start, end, node))
            self._max_column = max(self._max_column, start[1])
            if kind[1]:
                self.statements.append((start, end, node))

    def find(self, site: Site) -> cst.CSTNode | None:
        """The smallest node of the site's type around it (the first in position order on a tie)."""
        want_start = (site.span.line, site.span.column)
        want_end = (site.span.end_line, site.span.end_column)
        best: tuple[int, cst.CSTNode] | None = None
        for cls in CST_TYPES.get(site.node_type, ()):
            lines = self._by_line.get(cls)
            if not lines:
                continue
            first = min(lines)
            found: tuple[int, int, cst.CSTNode] | None = None  # (size, order, node) of this type
            for line in range(want_start[0], first - 1, -1):
                # every node starting on this line or above is at least this big
                least = (want_end[0] - line) * 100000 - self._max_column
                if (found is not None and least > found[0]) or (best is not None and least >= best[0]):
                    break  # (a later type must be strictly smaller to win)
                for order, start, end, node in lines.get(line, ()):
                    if start <= want_start and end >= want_end:
                        size = (end[0] - start[0]) * 100000 + (end[1] - start[1])
                        if found is None or (size, order) < found[:2]:
                            found = (size, order, node)
            if found is not None and (best is None or found[0] < best[0]):
                best = (found[0], found[2])
        return best[1] if best else None

    def statement_of(self, call: cst.Call) -> cst.CSTNode | None:
        for _, _, node in self.by_type.get(cst.Expr, ()):
            if node.value is call:  # type: ignore[attr-defined]
                return node
        return None

    def statement_at(self, site: Site) -> cst.CSTNode | None:
        want = (site.span.line, site.span.column)
        best: tuple[tuple[int, int], cst.CSTNode] | None = None
        for start, end, node in self.statements:
            if start <= want <= end and (best is None or start > best[0]):
                best = (start, node)
        return best[1] if best else None
