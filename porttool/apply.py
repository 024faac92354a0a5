"""Apply fixes to one source with libcst and verify the result (writing is `writing.py`'s).

The contract: a changed source parses, byte-compiles, re-scans with the fixed findings gone, and
is a fixed point (a second rewrite changes nothing). A source that fails is returned unchanged
with the offending rules named; nothing half-done ever reaches the disk.

Speed: libcst is slow on large modules (parse, positions, visit, print all walk every node), so
the transform works on a `skeleton.Skeleton`: only the top-level statements that hold a site (and, inside
their def/class bodies, only the runs of statements that do) are parsed, positioned, visited and
printed; file-level edits see the imports and `DEVICE` constants parsed too, and everything else
passes through as its text (`skeleton.Opaque`). Whatever the skeleton cannot settle goes to the whole-
module path (`SEGMENTED = False` forces it; tests/test_rewrite_segments.py compares the two).
"""

from __future__ import annotations

import ast
import gc
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import libcst as cst
from libcst.codemod import CodemodContext
from libcst.codemod.visitors import RemoveImportsVisitor
from libcst.metadata import MetadataWrapper, PositionProvider

from porttool import skeleton
from porttool.branches import branch_status
from porttool.fixes import PORTABLE_DEVICE_EXPR, FixContext, FixDeclined, build_replacement
from porttool.model import Action, Applicability, FixStatus, Rule, Site, TargetFix
from porttool.module_edits import (
    add_imports,
    cuda_imports,
    device_constant,
    insert_after_imports,
    insert_definition,
    maybe_unused,
    names_in,
    remove_imports,
    torch_alias,
)
from porttool.registry import Registry
from porttool.scanner import CompiledRules, scan_tree
from porttool.suppression import parse_suppressions
from porttool.writing import clean_stale_temp_files, write_atomic  # noqa: F401  (kept importable from here)


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
    "Compare": (cst.Comparison,),
    "Import": (cst.Import,),
    "ImportFrom": (cst.ImportFrom,),
}


@dataclass(frozen=True)
class RewriteResult:
    text: str
    applied: tuple[Site, ...] = ()
    held_back: tuple[Site, ...] = ()  # unsafe fixes not enabled
    declined: tuple[tuple[Site, str], ...] = ()  # the site could not be fixed here, and why
    rejected: tuple[tuple[str, str], ...] = ()  # (rule code, why) rolled back by verification
    marked: int = 0


@dataclass
class _Plan:
    fixes: list[tuple[Site, Rule, TargetFix]] = field(default_factory=list)
    marks: list[tuple[Site, Rule, str]] = field(default_factory=list)
    held_back: list[Site] = field(default_factory=list)
    declined: list[tuple[Site, str]] = field(default_factory=list)


def plan_fixes(sites: Sequence[Site], registry: Registry, target: str, *, unsafe: bool, mark_unfixed: bool, skip: frozenset[str] = frozenset()) -> _Plan:
    plan = _Plan()
    for site in sites:
        rule = registry.by_code.get(site.code)
        if rule is None or site.in_dispatch:
            continue
        fix = rule.fix_for(target)
        in_branch, blocker = branch_status(site, sites, registry, target)
        if blocker is not None and (in_branch is FixStatus.MANUAL or not unsafe) and fix.action in (Action.REWRITE, Action.REMOVE):
            plan.declined.append((site, f"the branch it guards keeps CUDA-only code ({blocker.code} on line {blocker.span.line}); it stays a CUDA-only branch"))
            continue
        if fix.action in (Action.REWRITE, Action.REMOVE) and site.code not in skip:
            if fix.applicability is Applicability.UNSAFE and not unsafe:
                plan.held_back.append(site)
                if mark_unfixed:
                    plan.marks.append((site, rule, f"unsafe fix available (--unsafe-fixes): {fix.title}"))
            else:
                plan.fixes.append((site, rule, fix))
        elif mark_unfixed and fix.action is Action.MANUAL:
            plan.marks.append((site, rule, fix.guidance or rule.summary))
    return plan


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
            new_text, applied, declined, marked = _transform(text, plan, target, unsafe, tree=tree)
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
    again = rewrite_text(after, new_sites, registry, rules, target, unsafe=unsafe, mark_unfixed=mark_unfixed, tree=tree) if _has_work(new_sites, registry, target, unsafe, mark_unfixed) else None
    if again is not None and again.text != after:
        return (_first_code(again.applied) if again.applied else "*", "a second rewrite changes the result again (not a fixed point)")
    return None


def _has_work(sites: Sequence[Site], registry: Registry, target: str, unsafe: bool, mark_unfixed: bool) -> bool:
    plan = plan_fixes(sites, registry, target, unsafe=unsafe, mark_unfixed=mark_unfixed)
    return bool(plan.fixes or plan.marks)


def _first_code(sites: Sequence[Site]) -> str:
    return sites[0].code if sites else "*"


# --------------------------------------------------------------------------------------- transform
def _transform(text: str, plan: _Plan, target: str, unsafe: bool, *, whole: bool = False, tree: ast.Module | None = None) -> tuple[str, list[Site], list[tuple[Site, str]], int]:
    site_lines = [s.span.line for s, _, _ in plan.fixes] + [s.span.line for s, _, _ in plan.marks]
    pieces = None if whole or not (SEGMENTED and skeleton.AVAILABLE) else skeleton.Skeleton.of(text, site_lines, tree)
    if pieces is not None:
        module = pieces.module
        positions: Mapping[cst.CSTNode, object] = pieces.positions
    else:  # the whole module, as one piece (every node parsed, positioned and visited)
        module = cst.parse_module(text)
        positions = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)
    locator = _Locator(positions)
    torch_name = torch_alias(module)
    device_name, has_device = device_constant(module)

    targets: dict[cst.CSTNode, list[tuple[Site, TargetFix]]] = {}
    declined: list[tuple[Site, str]] = []
    for site, rule, fix in plan.fixes:
        node = locator.find(site)
        if node is not None and fix.action is Action.REMOVE and isinstance(node, cst.Call):
            node = locator.statement_of(node) or node  # a call on its own line: remove the statement
        if node is None:
            declined.append((site, "porttool could not locate this site in the syntax tree"))
            continue
        targets.setdefault(node, []).append((site, fix))
    marks: dict[cst.CSTNode, list[str]] = {}
    for site, rule, note in plan.marks:
        statement = locator.statement_at(site)
        if statement is not None:
            marks.setdefault(statement, []).append(f"# porttool: TODO({rule.code}): {_one_line(note)}")

    transformer = _Rewriter(targets, marks, target, unsafe, torch_name, device_name)
    if pieces is not None:  # visit only the nodes on the way to a site; the rest stays as it is
        transformer.only = pieces.ancestors([*targets, *marks])
    new_module = module.visit(transformer)
    declined += transformer.declined
    if not transformer.applied and not transformer.marked:
        return text, [], declined, 0
    if transformer.imports:
        new_module = add_imports(new_module, transformer.imports)
    if transformer.needs_device_constant and not has_device:
        new_module = insert_after_imports(new_module, f"{device_name} = {PORTABLE_DEVICE_EXPR.replace('torch.', torch_name + '.')}")
    try:
        for name in dict.fromkeys(transformer.definitions):
            new_module = insert_definition(new_module, name, torch_name, pieces.expand if pieces is not None else None)
    except skeleton.NeedsWhole:
        return _transform(text, plan, target, unsafe, whole=True)
    code_of = pieces.code if pieces is not None else _module_code
    if transformer.applied:
        text_of = pieces.text_of if pieces is not None else None
        removable = maybe_unused(new_module, cuda_imports(new_module, transformer.touched_names), text_of)
        removed = remove_imports(new_module, removable, code_of(new_module)) if removable else new_module
        if removed is not None:
            new_module = removed
        elif pieces is not None:
            return _transform(text, plan, target, unsafe, whole=True)  # (scope analysis needs every statement)
        else:  # the cases a name scan can't settle: libcst's scope analysis (the costliest step) decides
            remove_context = CodemodContext()
            for module_name, obj, asname in removable:
                RemoveImportsVisitor.remove_unused_import(remove_context, module_name, obj, asname)
            new_module = RemoveImportsVisitor(remove_context).transform_module(new_module)
    return code_of(new_module), transformer.applied, declined, transformer.marked


def _module_code(module: cst.Module) -> str:
    return module.code


SEGMENTED = True  # False: parse, position, visit and print the whole module (the reference; tests compare both)


def _one_line(text: str, limit: int = 110) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


_LOCATED_TYPES = frozenset({cst.Expr, *(t for types in CST_TYPES.values() for t in types)})
_LOCATED_KINDS: dict[type, tuple[bool, bool]] = {}  # type → (a site's type or Expr, a statement)


class _Locator:
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


class _Rewriter(cst.CSTTransformer):
    def __init__(self, targets: dict[cst.CSTNode, list[tuple[Site, TargetFix]]], marks: dict[cst.CSTNode, list[str]], target: str, unsafe: bool, torch_name: str, device_name: str) -> None:
        super().__init__()
        self.targets, self.marks = targets, marks
        self.target, self.unsafe = target, unsafe
        self.torch_name, self.device_name = torch_name, device_name
        self.applied: list[Site] = []
        self.declined: list[tuple[Site, str]] = []
        self.imports: list[tuple[str, str | None, str | None]] = []
        self.needs_device_constant = False
        self.definitions: list[str] = []
        self.marked = 0
        self._positional_follows: dict[cst.CSTNode, bool] = {}
        self.touched_names: set[str] = set()  # names the replaced code used (their imports may now be unused)
        self._guarded: list[cst.IfExp] = []  # `call() if guard else None` built by fixes
        self._ported_lines: list[cst.CSTNode] = []  # statement lines a fix changed
        self._needs_accelerator: list[cst.CSTNode] = []  # replacements whose statement runs only with an accelerator
        self._first_statement: cst.CSTNode | None = None
        self._header_comments: set[str] = set()
        # ids of the nodes to visit (the sites' nodes and their ancestors); None: every node. A
        # subtree without a site comes out of this transform unchanged, so skipping it is exact.
        self.only: set[int] | None = None

    def on_visit(self, node: cst.CSTNode) -> bool:
        if self.only is not None and id(node) not in self.only:
            return False
        return super().on_visit(node)

    def on_leave(self, original_node: cst.CSTNode, updated_node: cst.CSTNode):  # type: ignore[no-untyped-def,override]
        if self.only is not None and id(original_node) not in self.only:
            return updated_node  # (not visited: `updated_node` is `original_node`)
        # structural clean-ups first (leave_* below), then this node's own fixes and markers
        node = super().on_leave(original_node, updated_node)
        if not isinstance(node, cst.CSTNode):
            return node
        for site, fix in self.targets.get(original_node, ()):
            ctx = FixContext(target=self.target, unsafe_allowed=self.unsafe, torch_name=self.torch_name, device_name=self.device_name)
            try:
                replacement = build_replacement(site, fix, node, ctx)
            except FixDeclined as exc:
                self.declined.append((site, str(exc)))
                continue
            if isinstance(replacement, cst.RemovalSentinel) and not isinstance(node, (cst.BaseSmallStatement, cst.Arg, cst.BaseStatement)):
                self.declined.append((site, "an expression used as a value cannot be removed"))
                continue
            if isinstance(replacement, cst.RemovalSentinel) and isinstance(node, cst.Arg) and node.keyword is None and site.node_type == "arg":
                if self._positional_follows.get(original_node, False):
                    self.declined.append((site, "removing this positional argument would shift the ones after it"))
                    continue
            self.applied.append(site)
            self.touched_names.update(n.value for n in names_in(original_node))
            self.imports.extend(ctx.imports)
            self.needs_device_constant |= ctx.needs_device_constant
            self.definitions.extend(ctx.definitions)
            if not isinstance(replacement, cst.CSTNode):
                return replacement
            if isinstance(replacement, cst.IfExp) and _is_guarded_action(replacement):
                self._guarded.append(replacement)
            if ctx.needs_accelerator:
                self._needs_accelerator.append(replacement)
            node = replacement
        if original_node in self.marks:
            # libcst keeps the comments above a module's first statement in the module header
            header = self._header_comments if original_node is self._first_statement else set()
            node = self._mark(node, self.marks[original_node], header)
        return node

    def visit_Module(self, node: cst.Module) -> None:
        self._first_statement = node.body[0] if node.body else None
        self._header_comments = {line.comment.value.strip() for line in node.header if line.comment}

    def _mark(self, statement: cst.CSTNode, lines: list[str], header: set[str]) -> cst.CSTNode:
        existing = {line.comment.value.strip() for line in getattr(statement, "leading_lines", ()) if line.comment} | header
        new_lines = [cst.EmptyLine(comment=cst.Comment(text)) for text in dict.fromkeys(lines) if not _marker_present(text, existing)]
        if not new_lines or not hasattr(statement, "leading_lines"):
            return statement
        self.marked += len(new_lines)
        return statement.with_changes(leading_lines=[*statement.leading_lines, *new_lines])  # type: ignore[attr-defined]

    def visit_Call(self, node: cst.Call) -> None:
        positional = [a for a in node.args if a.keyword is None and not a.star]
        for i, arg in enumerate(positional):
            self._positional_follows[arg] = i < len(positional) - 1

    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call):  # type: ignore[no-untyped-def]
        wrapped = self._device_call_around_constant(original_node, updated_node)
        if wrapped is not None:
            return wrapped
        # an argument removed from the end must not leave a dangling comma behind
        if len(updated_node.args) < len(original_node.args) and updated_node.args:
            original_comma = original_node.args[-1].comma
            last = updated_node.args[-1]
            if not isinstance(original_comma, cst.Comma) and isinstance(last.comma, cst.Comma):
                updated_node = updated_node.with_changes(args=[*updated_node.args[:-1], last.with_changes(comma=cst.MaybeSentinel.DEFAULT)])
            elif isinstance(original_comma, cst.Comma):
                # keep the call's own trailing comma and the layout before its `)`
                updated_node = updated_node.with_changes(args=[*updated_node.args[:-1], last.with_changes(comma=original_comma)])
        return updated_node

    def _device_call_around_constant(self, original: cst.Call, updated: cst.Call) -> cst.BaseExpression | None:
        """`torch.device(DEVICE)` → `DEVICE`; `torch.device(DEVICE, i)` → `torch.device(DEVICE.type, i)`;
        `torch.device(torch_xla.device()[, i])` → `torch_xla.device()`.

        A fix puts the portable constant where `"cuda"` was; inside `torch.device(...)` the call
        is then redundant, and with an index it needs the type string.
        """
        func = updated.func
        if not (isinstance(func, cst.Attribute) and func.attr.value == "device" and isinstance(func.value, cst.Name) and func.value.value == self.torch_name):
            return None
        if not updated.args or updated.args[0].keyword is not None or updated.args[0].star:
            return None
        first = updated.args[0].value
        if original.args[0].value.deep_equals(first):
            return None
        is_constant = isinstance(first, cst.Name) and first.value == self.device_name
        is_xla = _code(first) == "torch_xla.device()"
        if not (is_constant or is_xla):
            return None
        if len(updated.args) == 1 or is_xla:  # (XLA: one NeuronCore per process, the index goes)
            return first.with_changes(lpar=updated.lpar, rpar=updated.rpar)
        as_type = cst.Attribute(value=first, attr=cst.Name("type"))
        return updated.with_changes(args=[updated.args[0].with_changes(value=as_type), *updated.args[1:]])

    def leave_SimpleStatementLine(self, original_node: cst.SimpleStatementLine, updated_node: cst.SimpleStatementLine):  # type: ignore[no-untyped-def]
        if not updated_node.body:
            return cst.RemoveFromParent()
        only = updated_node.body[0] if len(updated_node.body) == 1 else None
        if isinstance(only, cst.Expr) and any(only.value is guarded for guarded in self._guarded):
            updated_node = _as_if_statement(updated_node, only.value)  # type: ignore[assignment,arg-type]
        elif isinstance(only, cst.Expr) and self._needs_accelerator and _contains_any(only, self._needs_accelerator):
            updated_node = _under_accelerator_guard(updated_node, self.torch_name)  # type: ignore[assignment]
        if not updated_node.deep_equals(original_node):
            self._ported_lines.append(updated_node)
        return updated_node

    def leave_Module(self, original_node: cst.Module, updated_node: cst.Module) -> cst.Module:
        return updated_node.with_changes(body=self._without_port_duplicates(updated_node.body))

    def leave_IndentedBlock(self, original_node: cst.IndentedBlock, updated_node: cst.IndentedBlock):  # type: ignore[no-untyped-def]
        if not updated_node.body:
            return updated_node.with_changes(body=[cst.SimpleStatementLine(body=[cst.Pass()])])
        return updated_node.with_changes(body=self._without_port_duplicates(updated_node.body))

    def _without_port_duplicates(self, body: Sequence[cst.BaseStatement]) -> list[cst.BaseStatement]:
        """Drop a call statement that a fix made identical to the one right before it.

        `torch.manual_seed(s)` followed by `torch.cuda.manual_seed_all(s)` ports to the same call
        twice; the source had two different statements, so the second copy is the port's artefact.
        """
        kept: list[cst.BaseStatement] = []
        for statement in body:
            previous = kept[-1] if kept else None
            if (
                previous is not None
                and any(statement is line for line in self._ported_lines)
                and _is_call_statement(statement)
                and _code_of(statement) == _code_of(previous)
                and not any(line.comment for line in statement.leading_lines)  # type: ignore[attr-defined]
            ):
                continue  # (a comment above it would be lost with it, so then it stays)
            kept.append(statement)
        return kept


def _contains_any(root: cst.CSTNode, nodes: list[cst.CSTNode]) -> bool:
    wanted = {id(n) for n in nodes}
    found = False

    class _Find(cst.CSTVisitor):
        def on_visit(self, node: cst.CSTNode) -> bool:
            nonlocal found
            found = found or id(node) in wanted
            return not found

    root.visit(_Find())
    return found


def _under_accelerator_guard(line: cst.SimpleStatementLine, torch_name: str) -> cst.If:
    """`stmt` → `if torch.accelerator.is_available():\n    stmt` (comments above stay above)."""
    test = cst.parse_expression(f"{torch_name}.accelerator.is_available()")
    return _inside_if(line, test, line.with_changes(leading_lines=[]))


def _inside_if(line: cst.SimpleStatementLine, test: cst.BaseExpression, inner: cst.SimpleStatementLine) -> cst.If:
    """`if test:` + `inner`, where `line` was; the comments above `line` stay above the `if`."""
    return cst.If(test=test, body=cst.IndentedBlock(body=[inner]), leading_lines=line.leading_lines)


def _code(node: cst.CSTNode) -> str:
    return cst.Module(body=[]).code_for_node(node)


def _is_call_statement(statement: cst.CSTNode) -> bool:
    return isinstance(statement, cst.SimpleStatementLine) and len(statement.body) == 1 and isinstance(statement.body[0], cst.Expr) and isinstance(statement.body[0].value, cst.Call)


def _code_of(statement: cst.CSTNode) -> str:
    """The statement's code without the blank lines and comments above it."""
    if isinstance(statement, skeleton.Opaque):  # (the last of the statements it stands for)
        statement = statement.statements()[-1]
    bare = statement.with_changes(leading_lines=[]) if hasattr(statement, "leading_lines") else statement
    return cst.Module(body=[]).code_for_node(bare).strip()


def _is_guarded_action(node: cst.CSTNode) -> bool:
    """`action() if guard else None`: a fix that guards a call, used for its effect or its value."""
    return isinstance(node, cst.IfExp) and isinstance(node.orelse, cst.Name) and node.orelse.value == "None" and isinstance(node.body, cst.Call)


def _as_if_statement(line: cst.SimpleStatementLine, guarded: cst.IfExp) -> cst.If:
    """A guarded call on a line of its own reads better as a statement: `if guard:` + the call."""
    call = guarded.body.with_changes(lpar=[], rpar=[]) if isinstance(guarded.body, cst.Call) else guarded.body
    inner = cst.SimpleStatementLine(body=[cst.Expr(call)], trailing_whitespace=line.trailing_whitespace)
    return _inside_if(line, guarded.test, inner)


def _marker_present(text: str, existing: set[str]) -> bool:
    prefix = text.split(":", 2)[:2]
    key = ":".join(prefix)  # "# porttool: TODO(PT123)"
    return any(e.startswith(key) for e in existing)
