"""One decoded source → its sites: prefilter, parse (`ast`), match, drop suppressed sites.

Shared by scan and rewrite (the rewrite keeps the parsed tree to reuse it). A problem is a value
(`Diagnostic`), never an exception.
"""

from __future__ import annotations

import ast
import contextlib
import gc
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from porttool.model import Diagnostic, Site
from porttool.scan.matcher import scan_tree
from porttool.scan.rule_index import CompiledRules
from porttool.scan.sources import SourceFile
from porttool.scan.suppressions import Suppressions, parse_suppressions


@dataclass(frozen=True)
class Analysis:
    """A parsed source and the sites in it; shared by scan and rewrite."""

    source: SourceFile
    text: str  # the Python text scanned: the file's, or a notebook's joined code cells
    sites: tuple[Site, ...]
    suppressed: tuple[Site, ...]
    suppressions: Suppressions
    cell_of_line: Callable[[int], tuple[int | None, int]] | None = None
    tree: ast.Module | None = None  # the text's `ast`, kept only when asked (a rewrite reuses it)


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while a tree is built and walked: an `ast` tree has no
    cycles (refcounting frees it), but its millions of nodes trigger collections that cost ~14% of
    a scan's CPU (measured on the torch corpus with gc.callbacks). Re-enabled afterwards."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def analyse(source: SourceFile, rules: CompiledRules, *, keep_tree: bool = False) -> Analysis | Diagnostic:
    """Find every site in a decoded source (a notebook's code cells included). With `keep_tree`
    the parsed `ast` comes back in the analysis (a rewrite needs it; a scan lets it go at once)."""
    text, cell_of_line = source.text, None
    if source.is_notebook:
        from porttool.scan import notebooks

        try:
            virtual = notebooks.to_virtual(source.text)
        except notebooks.NotebookError as exc:
            return Diagnostic("PT905", source.display, str(exc))
        text, cell_of_line = virtual.source, virtual.cell_of_line
    suppressions = parse_suppressions(text)
    if suppressions.skip_file or not rules.may_match(text):
        return Analysis(source, text, (), (), suppressions, cell_of_line)
    with gc_paused():
        try:
            tree = ast.parse(text, filename=source.display)
        except SyntaxError as exc:
            return _syntax_error(source, text, exc, cell_of_line)
        except (ValueError, RecursionError, MemoryError) as exc:
            return Diagnostic("PT902", source.display, f"cannot parse: {exc}")
        sites = scan_tree(text, tree, rules)
        kept_tree = tree if keep_tree else None
        del tree  # freed here (unless kept), while collection is still off: no collector pass over its nodes
    kept = tuple(s for s in sites if not suppressions.suppresses(s.code, s.span.line))
    dropped = tuple(s for s in sites if suppressions.suppresses(s.code, s.span.line))
    return Analysis(source, text, kept, dropped, suppressions, cell_of_line, kept_tree)


def _syntax_error(source: SourceFile, text: str, exc: SyntaxError, cell_of_line: Callable[[int], tuple[int | None, int]] | None) -> Diagnostic:
    line, col = exc.lineno or 1, (exc.offset or 1) - 1
    where = f"line {line}"
    if cell_of_line is not None:
        cell, line = cell_of_line(line)
        where = f"cell {cell}, line {line}"
    hint = " (Python 2 code?)" if re.search(r"^\s*print\s+[\"'\w]", text, re.M) else ""
    return Diagnostic("PT902", source.display, f"syntax error at {where}: {exc.msg}{hint}", line, max(col, 0))
