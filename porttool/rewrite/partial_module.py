"""The rewrite's fast path: a libcst module parsed only where a rewrite needs it.

libcst is slow on large modules (parse, positions, visit and print each walk every node). A
`Skeleton` parses, positions and prints only the top-level statements that hold a site (and,
inside their def/class bodies, only the runs of statements that do), the first statement, the
imports and `DEVICE` constants; everything else passes through as its text (`Opaque`). Whatever
it cannot settle raises `NeedsWhole` or makes `Skeleton.of` return None, and `transform.py` redoes
the file on the whole module (tests/test_rewrite_segments.py compares the two paths).

It relies on libcst internals (its code generator's state and position records, checked with
libcst 1.1–1.9): where those are missing, `AVAILABLE` is False and every rewrite takes the
whole-module path (slower, same result).
"""

from __future__ import annotations

import ast
import bisect
import io
import re
import tokenize
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import libcst as cst
from libcst.metadata import PositionProvider

from porttool.rewrite.replacements import PORTABLE_DEVICE_NAME, SUPPORT_DEFINITIONS

try:  # libcst internals (see above)
    from libcst._nodes.internal import CodegenState
    from libcst._position import CodePosition, CodeRange
    from libcst.metadata.position_provider import PositionProvidingCodegenState

    AVAILABLE = True
except ImportError:  # pragma: no cover - a libcst without them
    AVAILABLE = False
    CodegenState = PositionProvidingCodegenState = object  # type: ignore[misc,assignment]

_NEWLINE = re.compile(r"\r\n?|\n")  # what libcst (and Python's tokenizer) count as a line break
_FREE_LINE = re.compile(r"(#[^\r\n]*)?(\r\n?|\n)")  # a gap line that libcst gives to the statement below
_DEVICE_NAMES = frozenset({PORTABLE_DEVICE_NAME, "ACCELERATOR_DEVICE", "PORTTOOL_DEVICE"})


class _Tracker(PositionProvider):
    """PositionProvider that also records each node's parent while it prints (by id)."""

    def __init__(self) -> None:
        super().__init__()
        self.parent: dict[int, cst.CSTNode | None] = {}
        self.stack: list[cst.CSTNode] = []


class _TrackingState(PositionProvidingCodegenState):
    # PositionProvidingCodegenState's own before/after_codegen, inlined, plus the parent of each node
    def before_codegen(self, node: cst.CSTNode) -> None:
        provider: _Tracker = self.provider  # type: ignore[assignment]
        stack = provider.stack
        provider.parent[id(node)] = stack[-1] if stack else None
        stack.append(node)
        self._stack.append(CodePosition(self.line, self.column))

    def after_codegen(self, node: cst.CSTNode) -> None:
        provider: _Tracker = self.provider  # type: ignore[assignment]
        provider.stack.pop()
        start = self._stack.pop()
        if node not in provider._computed:  # (a syntactic position, recorded already, wins)
            provider._computed[node] = CodeRange(start, CodePosition(self.line, self.column))


@dataclass(frozen=True, eq=False)
class Opaque(cst.BaseStatement):
    """Top-level statements kept as text in a `Skeleton` (no site, nothing a file-level edit
    reads). It prints as its text; a visitor that enters it sees its statements, parsed then."""

    text: str = ""
    config: object = None
    nested: bool = False  # statements of an indented block (their text keeps its indentation)

    def statements(self) -> Sequence[cst.BaseStatement]:
        if not self.nested:
            return cst.parse_module(self.text, config=self.config).body  # type: ignore[arg-type]
        block: Any = cst.parse_module("if 1:" + self.config.default_newline + self.text, config=self.config).body[0]  # type: ignore[attr-defined,arg-type]
        return block.body.body  # type: ignore[no-any-return]

    def _visit_and_replace_children(self, visitor: cst.CSTVisitorT) -> Opaque:
        for statement in self.statements():
            statement.visit(visitor)
        return self

    def _codegen_impl(self, state: Any) -> None:
        state.add_token(self.text)


class NeedsWhole(Exception):
    """The skeleton cannot settle this edit: redo the file on the whole module."""


class Skeleton:
    """A module parsed only where a rewrite needs it: the top-level statements that hold a site,
    the first one, the imports (and `try:` blocks of imports) and `DEVICE = ...` assignments.
    Every other run of top-level statements is an `Opaque` piece of text.

    libcst parses each needed run on its own. The file is cut only between statements where the
    lines between them are blank or comments in column 0 (libcst gives those to the statement
    below; a cut elsewhere could hand a comment to the wrong statement); each run parsed must
    print back as its text. Anything unexpected: `of` returns None (the whole-module path).
    """

    def __init__(self) -> None:
        self.module: cst.Module = cst.Module(body=())
        self.positions: dict[cst.CSTNode, object] = {}
        self.parent: dict[int, cst.CSTNode | None] = {}
        self.texts: dict[int, tuple[cst.CSTNode, str]] = {}  # id → (statement, its code)
        self.header_text = self.footer_text = ""

    @classmethod
    def of(cls, text: str, site_lines: Sequence[int], tree: ast.Module | None = None) -> Skeleton | None:
        """`tree`: the text's `ast`, when the caller has it (else it is parsed here)."""
        try:
            return cls._of(text, site_lines, tree)
        except (IndexError, KeyError, ValueError, AttributeError):  # (a layout it did not foresee)
            return None

    @classmethod
    def _of(cls, text: str, site_lines: Sequence[int], tree: ast.Module | None) -> Skeleton | None:
        if not text.endswith(("\n", "\r")):
            return None
        if "\r" in text and not text.count("\r\n") == text.count("\r") == text.count("\n"):
            return None  # mixed line breaks: libcst's choice of the default is the whole parse's
        newline = "\r\n" if "\r" in text else "\n"
        try:
            tree = tree if tree is not None else ast.parse(text)
            indent = _first_indent(text)
        except (SyntaxError, ValueError, RecursionError, MemoryError, tokenize.TokenError, IndentationError):
            return None
        if not tree.body or indent is None:
            return None
        offsets = [0, *(m.end() for m in _NEWLINE.finditer(text))]
        # runs of statements that can be cut apart: [first line, statements...]
        runs: list[list[Any]] = []
        previous_end = 0
        for node in tree.body:
            first = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", ()))])
            gap = range(previous_end + 1, first)
            if runs and (first <= previous_end or not all(_FREE_LINE.fullmatch(text, offsets[line - 1], offsets[line]) for line in gap)):
                runs[-1].append(node)  # no clean cut here: the same run
            else:
                runs.append([previous_end + 1 if runs else 1, node])
            previous_end = max(previous_end, node.end_lineno or node.lineno)
        sites = sorted(set(site_lines))
        bounds = [run[0] for run in runs] + [len(offsets)]
        needed = [
            i == 0
            or _needed(run[1:], sites, run[0], bounds[i + 1])
            # (a device constant: a support definition goes after it)
            or ".accelerator.current_accelerator" in text[offsets[run[0] - 1] : offsets[bounds[i + 1] - 1]]
            for i, run in enumerate(runs)
        ]
        skeleton = cls()
        config = cst.PartialParserConfig(default_indent=indent, default_newline=newline)
        body: list[Any] = []
        header: Sequence[cst.EmptyLine] = ()
        footer: Sequence[cst.EmptyLine] = ()
        for i, run in enumerate(runs):
            start = offsets[run[0] - 1]
            end = offsets[runs[i + 1][0] - 1] if i + 1 < len(runs) else len(text)
            chunk = text[start:end]
            if not needed[i]:
                piece = Opaque(text=chunk, config=config)
                skeleton.texts[id(piece)] = (piece, chunk)
                body.append(piece)
                continue
            pieces: dict[int, Opaque] = {}
            reduced = chunk
            if _holds(sites, run[0], runs[i + 1][0] if i + 1 < len(runs) else len(offsets)):
                ranges: list[tuple[int, int, str]] = []
                _inner_runs(text, offsets, run[1:], sites, ranges)
                if ranges:
                    reduced = reduce_runs(text, offsets, start, end, ranges, newline, pieces, config)
            try:
                part = cst.parse_module(reduced, config=config)
                if pieces:
                    part = part.visit(_Swap(pieces))
            except (cst.ParserSyntaxError, RecursionError):
                return None
            if pieces:
                return None  # (a stand-in did not come back as a statement of its own)
            if sum(len(s.body) if isinstance(s, cst.SimpleStatementLine) else 1 for s in part.body) != len(run) - 1:
                return None
            if part.footer and i + 1 < len(runs):
                return None
            statements = list(part.body)
            if i == 0:
                header = part.header
            elif part.header:  # (a run's own parse puts the comments above its first statement here)
                statements[0] = statements[0].with_changes(leading_lines=[*part.header, *statements[0].leading_lines])  # type: ignore[attr-defined]
            if i + 1 == len(runs):
                footer = part.footer
            if not skeleton._print(statements, run[0] + (len(header) if i == 0 else 0), chunk, header if i == 0 else (), footer if i + 1 == len(runs) else (), config, _holds(sites, run[0], runs[i + 1][0] if i + 1 < len(runs) else len(offsets))):
                return None
            body.extend(statements)
        skeleton.module = cst.Module(body=body, header=header, footer=footer, default_indent=indent, default_newline=newline, has_trailing_newline=True)
        return skeleton

    def _print(self, statements: Sequence[cst.BaseStatement], line: int, chunk: str, header: Sequence[cst.EmptyLine], footer: Sequence[cst.EmptyLine], config: Any, track: bool) -> bool:
        """Note the statements' texts (and with `track`, their nodes' positions from `line` on and
        parents); True if they print as `chunk`."""
        tracker = _Tracker()
        state: Any = (
            _TrackingState(default_indent=config.default_indent, default_newline=config.default_newline, provider=tracker, line=1)
            if track
            else CodegenState(default_indent=config.default_indent, default_newline=config.default_newline)
        )
        for empty in header:
            empty._codegen(state)
        self.header_text = "".join(state.tokens) if header else self.header_text
        if track:
            state.line = line
        pieces = [self.header_text if header else ""]
        for statement in statements:
            before = len(state.tokens)
            statement._codegen(state)
            code = "".join(state.tokens[before:])
            self.texts[id(statement)] = (statement, code)
            pieces.append(code)
        if footer:
            before = len(state.tokens)
            for empty in footer:
                empty._codegen(state)
            self.footer_text = "".join(state.tokens[before:])
            pieces.append(self.footer_text)
        if "".join(pieces) != chunk:
            return False
        self.positions.update(tracker._computed)
        self.parent.update(tracker.parent)
        return True

    def expand(self, statement: cst.BaseStatement) -> Sequence[cst.BaseStatement]:
        """The statements a top-level `Opaque` stands for, parsed now (others: as they are)."""
        if not isinstance(statement, Opaque):
            return [statement]
        part = cst.parse_module(statement.text, config=statement.config)  # type: ignore[arg-type]
        if part.footer or statement.nested:
            raise NeedsWhole  # (the module's footer, or an indented block: not a top-level run)
        statements = list(part.body)
        if part.header:
            statements[0] = statements[0].with_changes(leading_lines=[*part.header, *statements[0].leading_lines])  # type: ignore[attr-defined]
        if "".join(self.text_of(s) for s in statements) != statement.text:
            raise NeedsWhole
        return statements

    def ancestors(self, nodes: Iterable[cst.CSTNode]) -> set[int]:
        """Ids of the nodes, their ancestors and the module: what a transform must visit."""
        out = {id(self.module)}
        for node in nodes:
            current: cst.CSTNode | None = node
            while current is not None and id(current) not in out:
                out.add(id(current))
                current = self.parent.get(id(current))
        return out

    def text_of(self, statement: cst.CSTNode) -> str:
        known = self.texts.get(id(statement))
        if known is None or known[0] is not statement:
            known = self.texts[id(statement)] = (statement, self.module.code_for_node(statement))
        return known[1]

    def code(self, module: cst.Module) -> str:
        """`module.code` for a module made from the skeleton, each statement printed once."""
        original = self.module
        if (
            not _same_nodes(module.header, original.header)
            or not _same_nodes(module.footer, original.footer)
            or (module.has_trailing_newline, module.default_newline, module.default_indent)
            != (original.has_trailing_newline, original.default_newline, original.default_indent)
        ):
            return module.code
        return self.header_text + "".join(self.text_of(s) for s in module.body) + self.footer_text


_STAND_IN = re.compile(r"__porttool_opaque_(\d+)__")
_NESTED_FREE_LINE = re.compile(r"([ \t]*)#[^\r\n]*(\r\n?|\n)|(\r\n?|\n)")


def _first_line(node: ast.stmt) -> int:
    return min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", ()))])


def _inner_runs(text: str, offsets: list[int], nodes: Sequence[ast.stmt], sites: Sequence[int], out: list[tuple[int, int, str]]) -> None:
    """The line ranges [a, b) of statement runs inside def/class bodies among `nodes` that hold
    no site (each with its block's indentation), looking into the runs that do, recursively.

    The first and last runs of a block always stay (the lines above the first follow the block's
    header; comments below the last may belong to a block inside it); runs are cut only where the
    lines between are blank or comments no deeper than the block (libcst gives those to the
    statement below)."""
    for node in nodes:
        if not isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        if not _holds(sites, _first_line(node), (node.end_lineno or node.lineno) + 1):
            continue
        body = node.body
        line = body[0].lineno
        indent = text[offsets[line - 1] : offsets[line - 1] + body[0].col_offset]
        if not indent or indent.strip(" \t") or _first_line(body[0]) <= node.lineno:
            continue
        runs: list[list[Any]] = []
        previous_end = 0
        for inner in body:
            first = _first_line(inner)
            free = runs and first > previous_end and all(_nested_free(text, offsets, gap, indent) for gap in range(previous_end + 1, first))
            if runs and not free:
                runs[-1].append(inner)
            else:
                runs.append([previous_end + 1 if runs else first, inner])
            previous_end = max(previous_end, inner.end_lineno or inner.lineno)
        for k, inner_run in enumerate(runs):
            end = runs[k + 1][0] if k + 1 < len(runs) else previous_end + 1
            if 0 < k < len(runs) - 1 and not _holds(sites, inner_run[0], end):
                out.append((inner_run[0], end, indent))
            else:
                _inner_runs(text, offsets, inner_run[1:], sites, out)


def _nested_free(text: str, offsets: list[int], line: int, indent: str) -> bool:
    match = _NESTED_FREE_LINE.fullmatch(text, offsets[line - 1], offsets[line])
    return match is not None and (match.group(1) is None or indent.startswith(match.group(1)))


def reduce_runs(text: str, offsets: list[int], start: int, end: int, ranges: list[tuple[int, int, str]], newline: str, pieces: dict[int, Opaque], config: Any) -> str:
    """text[start:end] with each range of lines replaced by a one-line stand-in (noted in `pieces`)."""
    out: list[str] = []
    at = start
    for a, b, indent in sorted(ranges):
        out.append(text[at : offsets[a - 1]])
        pieces[len(pieces)] = Opaque(text=text[offsets[a - 1] : offsets[b - 1]], config=config, nested=True)
        out.append(f"{indent}__porttool_opaque_{len(pieces) - 1}__{newline}")
        at = offsets[b - 1]
    out.append(text[at:end])
    return "".join(out)


class _Swap(cst.CSTTransformer):
    """Put each `Opaque` back where its stand-in statement was parsed."""

    def __init__(self, pieces: dict[int, Opaque]) -> None:
        super().__init__()
        self.pieces = pieces

    def leave_SimpleStatementLine(self, original_node: cst.SimpleStatementLine, updated_node: cst.SimpleStatementLine):  # type: ignore[no-untyped-def]
        only = updated_node.body[0] if len(updated_node.body) == 1 else None
        if isinstance(only, cst.Expr) and isinstance(only.value, cst.Name) and not updated_node.leading_lines:
            match = _STAND_IN.fullmatch(only.value.value)
            if match and int(match.group(1)) in self.pieces:
                return self.pieces.pop(int(match.group(1)))
        return updated_node


def _holds(sites: Sequence[int], first: int, end: int) -> bool:
    """Whether a site line lies in [first, end) (`sites` sorted)."""
    at = bisect.bisect_left(sites, first)
    return at < len(sites) and sites[at] < end


def _needed(nodes: Sequence[ast.stmt], sites: Sequence[int], first: int, end: int) -> bool:
    """Whether a run of top-level statements (lines [first, end)) must be parsed."""
    if _holds(sites, first, end):
        return True
    for node in nodes:
        if isinstance(node, (ast.Import, ast.ImportFrom)) or _imports_only(node):
            return True
        if isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.name in SUPPORT_DEFINITIONS:
            return True  # (a support definition already there)
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name) and node.targets[0].id in _DEVICE_NAMES:
            return True
    return False


def _imports_only(node: ast.stmt) -> bool:
    return isinstance(node, ast.Try) and all(isinstance(s, (ast.Import, ast.ImportFrom)) or _imports_only(s) for s in node.body)


def _first_indent(text: str) -> str | None:
    """libcst's `default_indent`: the first indented block's indentation (four spaces if none)."""
    for token in tokenize.generate_tokens(io.StringIO(text).readline):
        if token.type == tokenize.INDENT:
            return token.string
    return "    "


def _same_nodes(a: Sequence[cst.CSTNode], b: Sequence[cst.CSTNode]) -> bool:
    return len(a) == len(b) and all(x is y for x, y in zip(a, b))
