"""Code that already dispatches per backend: a test that names CUDA *and* another backend
(`if device == "cuda": ... elif device == "mps": ...`, `torch.cuda... if ... else torch.mps...`) is
multi-backend on purpose; its sites are reported as such and left alone."""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Iterable


OTHER_BACKEND_PREFIXES = (
    "torch.backends.mps",
    "torch.mps",
    "torch.xpu",
    "torch.accelerator",
    "torch.neuron",
    "torch.npu",
    "torch_xla",
    "torch.backends.mkldnn",
    "torch.hpu",
    "torch.mtia",
)


OTHER_BACKEND_WORDS = tuple(sorted({prefix.rsplit(".", 1)[-1] for prefix in OTHER_BACKEND_PREFIXES}))


# Device-type names other than CUDA: code that compares a device with "cuda" *and* one of these
# dispatches per backend on purpose and must be left alone. (A cheap text test first: the
# pre-pass below runs only on files that mention one of them.)
OTHER_DEVICE_TYPES = {"mps", "xpu", "hpu", "npu", "xla", "neuron", "privateuseone", "mtia"}
MENTIONS_OTHER_BACKEND = re.compile(r"""["'](?:%s)["']""" % "|".join(sorted(OTHER_DEVICE_TYPES)))


def _compared_literal(test: ast.AST) -> tuple[str, str] | None:
    """(dump of the compared expression, literal) for `E == "x"`, `E != "x"`, `"x" in E` tests."""
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        test = test.operand
    if not (isinstance(test, ast.Compare) and len(test.ops) == 1):
        return None
    left, right = test.left, test.comparators[0]
    for literal, other in ((right, left), (left, right)):
        if isinstance(literal, ast.Constant) and isinstance(literal.value, str):
            return ast.dump(other), literal.value
    return None


def device_type_dispatch_ifs(tree: ast.Module, holds_relevant_line: Callable[[ast.stmt], bool]) -> set[int]:
    """Ids of `if` statements that branch per device type: a run of consecutive `if`s (and their
    `elif`s) testing the same expression against "cuda" and another backend's name.

    Walks statement blocks only, and only inside statements that can hold a site (an `if` no scan
    visits needs no answer)."""
    found: set[int] = set()
    todo: list[ast.AST] = [tree]
    while todo:
        parent = todo.pop()
        for attribute in ("body", "orelse", "finalbody", "handlers", "cases"):
            statements = getattr(parent, attribute, None)
            if not isinstance(statements, list) or not statements or isinstance(statements[0], ast.expr):
                continue
            run: list[ast.If] = []
            for statement in [*statements, None]:
                if isinstance(statement, ast.stmt) and holds_relevant_line(statement):
                    todo.append(statement)
                elif isinstance(statement, (ast.excepthandler, ast.match_case)):
                    todo.append(statement)
                if isinstance(statement, ast.If):
                    run.append(statement)
                    continue
                if len(run) > 0:
                    found |= _dispatch_in_run(run)
                run = []
    return found


def _dispatch_in_run(run: list[ast.If]) -> set[int]:
    literals: dict[str, set[str]] = {}
    members: dict[str, list[ast.If]] = {}
    for first in run:
        node: ast.If | None = first
        while node is not None:
            compared = _compared_literal(node.test)
            if compared is not None:
                literals.setdefault(compared[0], set()).add(compared[1])
                members.setdefault(compared[0], []).append(first)
            node = node.orelse[0] if len(node.orelse) == 1 and isinstance(node.orelse[0], ast.If) else None
    found: set[int] = set()
    for expr, values in literals.items():
        if "cuda" in values and values & OTHER_DEVICE_TYPES:
            found |= {id(n) for n in members[expr]}
    return found


def chain_tests(node: ast.If) -> Iterable[ast.AST]:
    while True:
        yield node.test
        if len(node.orelse) == 1 and isinstance(node.orelse[0], ast.If):
            node = node.orelse[0]
        else:
            return


def ifexp_tests(node: ast.IfExp) -> Iterable[ast.AST]:
    current: ast.AST = node
    while isinstance(current, ast.IfExp):
        yield current.test
        yield from (n for n in (current.body,) if isinstance(n, ast.IfExp))
        current = current.orelse
