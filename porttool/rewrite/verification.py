"""The verified port of one text: plan, transform, then prove the result — it parses,
byte-compiles, re-scans with the fixed findings gone and is a fixed point (a second rewrite changes
nothing). A rule whose fixes fail that is dropped and the rest retried; a text that cannot be
ported soundly comes back unchanged, with the offending rules named.
"""

from __future__ import annotations

import ast
import gc
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import libcst as cst

from porttool.model import Site
from porttool.rewrite.planning import has_work, plan_fixes
from porttool.rewrite.transform import transform
from porttool.ruleset.registry import Registry
from porttool.scan.matcher import scan_tree
from porttool.scan.rule_index import CompiledRules
from porttool.scan.suppressions import parse_suppressions


@dataclass(frozen=True)
class RewriteResult:
    text: str
    applied: tuple[Site, ...] = ()
    held_back: tuple[Site, ...] = ()  # unsafe fixes not enabled
    declined: tuple[tuple[Site, str], ...] = ()  # the site could not be fixed here, and why
    rejected: tuple[tuple[str, str], ...] = ()  # (rule code, why) rolled back by verification
    marked: int = 0


def rewrite_text(
    text: str,
    sites: Sequence[Site],
    registry: Registry,
    rules: CompiledRules,
    target: str,
    *,
    unsafe: bool = False,
    mark_unfixed: bool = False,
    tree: ast.Module | None = None,
) -> RewriteResult:
    """Rewrite one module's text for `target`, verified; unchanged text if nothing applies.
    `tree`: the text's `ast` when the caller parsed it already (the scan did)."""
    enabled = gc.isenabled()
    gc.disable()  # libcst and ast build millions of acyclic nodes: collections would only cost time
    try:
        return _rewrite_text(text, sites, registry, rules, target, unsafe=unsafe, mark_unfixed=mark_unfixed, tree=tree)
    finally:
        if enabled:
            gc.enable()


def _rewrite_text(
    text: str,
    sites: Sequence[Site],
    registry: Registry,
    rules: CompiledRules,
    target: str,
    *,
    unsafe: bool,
    mark_unfixed: bool,
    tree: ast.Module | None,
) -> RewriteResult:
    skip: set[str] = set()
    rejected: list[tuple[str, str]] = []
    for _ in range(len({s.code for s in sites}) + 1):
        plan = plan_fixes(sites, registry, target, unsafe=unsafe, mark_unfixed=mark_unfixed, skip=frozenset(skip))
        if not plan.fixes and not plan.marks:
            return RewriteResult(text, held_back=tuple(plan.held_back), declined=tuple(plan.declined), rejected=tuple(rejected))
        try:
            new_text, applied, declined, marked = transform(text, plan, target, unsafe, tree=tree)
        except (cst.ParserSyntaxError, RecursionError) as exc:
            return RewriteResult(text, rejected=(("*", f"libcst could not parse the file: {exc}"),))
        problem = _verify(text, new_text, sites, applied, registry, rules, target, unsafe, mark_unfixed)
        if problem is None:
            return RewriteResult(new_text, tuple(applied), tuple(plan.held_back), tuple(plan.declined) + tuple(declined), tuple(rejected), marked)
        code, why = problem
        if code == "*" or code in skip:
            rejected.append((code, why))
            return RewriteResult(text, rejected=tuple(rejected))
        skip.add(code)
        rejected.append((code, why))
    return RewriteResult(text, rejected=tuple(rejected))


def _verify(
    before: str,
    after: str,
    sites: Sequence[Site],
    applied: Sequence[Site],
    registry: Registry,
    rules: CompiledRules,
    target: str,
    unsafe: bool,
    mark_unfixed: bool,
) -> tuple[str, str] | None:
    """None when `after` is a sound port of `before`; else (blamed rule code, why)."""
    if after == before:
        return None
    blame = applied[0].code if len({s.code for s in applied}) == 1 else None
    try:
        tree = ast.parse(after)
        compile(tree, "<porttool>", "exec")
    except (SyntaxError, ValueError) as exc:
        return (blame or _first_code(applied), f"the result does not compile: {exc}")
    suppressions = parse_suppressions(after)
    new_sites = [s for s in scan_tree(after, tree, rules) if not suppressions.suppresses(s.code, s.span.line)]
    old = Counter(s.code for s in sites)
    new = Counter(s.code for s in new_sites)
    done = Counter(s.code for s in applied)
    for code in sorted(done):  # only fixed rules must lose their findings; hints may move lines
        if new[code] > old[code] - done[code]:
            return (code, f"{code} still matches after its fix (a fix that does not remove its finding)")
    again = rewrite_text(after, new_sites, registry, rules, target, unsafe=unsafe, mark_unfixed=mark_unfixed, tree=tree) if has_work(new_sites, registry, target, unsafe, mark_unfixed) else None
    if again is not None and again.text != after:
        return (_first_code(again.applied) if again.applied else "*", "a second rewrite changes the result again (not a fixed point)")
    return None


def _first_code(sites: Sequence[Site]) -> str:
    return sites[0].code if sites else "*"
