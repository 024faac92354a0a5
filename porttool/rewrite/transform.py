"""The libcst transform of one source: apply a fix plan's replacements and markers, then the
module-level edits they need (imports, the `DEVICE` constant, support definitions, unused CUDA
imports removed). Verification is porttool.rewrite.verification's; writing, write_back's.

Speed: libcst is slow on large modules (parse, positions, visit, print all walk every node), so
the transform works on a `partial_module.Skeleton`: only the top-level statements that hold a site
(and, inside their def/class bodies, only the runs of statements that do) are parsed, positioned,
visited and printed; file-level edits see the imports and `DEVICE` constants parsed too, and
everything else passes through as its text (`partial_module.Opaque`). Whatever the skeleton cannot
settle goes to the whole-module path (`SEGMENTED = False` forces it;
tests/test_rewrite_segments.py compares the two).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping, Sequence

import libcst as cst
from libcst.codemod import CodemodContext
from libcst.codemod.visitors import RemoveImportsVisitor
from libcst.metadata import MetadataWrapper, PositionProvider

from porttool.model import Action, Site, TargetFix
from porttool.rewrite import partial_module
from porttool.rewrite.handlers import _cpu_gate
from porttool.rewrite.locator import Locator
from porttool.rewrite.planning import FixPlan
from porttool.rewrite.replacements import PORTABLE_DEVICE_EXPR, FixContext, FixDeclined, build_replacement
from porttool.rewrite.module_edits import (
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


# --------------------------------------------------------------------------------------- transform
def transform(text: str, plan: FixPlan, target: str, unsafe: bool, *, whole: bool = False, tree: ast.Module | None = None) -> tuple[str, list[Site], list[tuple[Site, str]], int]:
    site_lines = [s.span.line for s, _, _ in plan.fixes] + [s.span.line for s, _, _ in plan.marks]
    pieces = None if whole or not (SEGMENTED and partial_module.AVAILABLE) else partial_module.Skeleton.of(text, site_lines, tree)
    if pieces is not None:
        module = pieces.module
        positions: Mapping[cst.CSTNode, object] = pieces.positions
    else:  # the whole module, as one piece (every node parsed, positioned and visited)
        module = cst.parse_module(text)
        positions = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)
    locator = Locator(positions)
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
    transformer.statement_calls = {id(node) for node in targets if isinstance(node, cst.Call) and locator.statement_of(node) is not None}
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
    except partial_module.NeedsWhole:
        return transform(text, plan, target, unsafe, whole=True)
    code_of = pieces.code if pieces is not None else _module_code
    if transformer.applied:
        text_of = pieces.text_of if pieces is not None else None
        removable = maybe_unused(new_module, cuda_imports(new_module, transformer.touched_names), text_of)
        removed = remove_imports(new_module, removable, code_of(new_module)) if removable else new_module
        if removed is not None:
            new_module = removed
        elif pieces is not None:
            return transform(text, plan, target, unsafe, whole=True)  # (scope analysis needs every statement)
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
    """`text` on one line of at most `limit` characters, shortened at a word boundary (never
    inside a word or a `code` span: a reviewer must be able to read what is left)."""
    line = " ".join(text.split())
    if len(line) <= limit:
        return line
    words: list[str] = []
    for word in line.split(" "):
        if len(" ".join([*words, word])) > limit - 2:  # (room for " …")
            break
        words.append(word)
    while words and " ".join(words).count("`") % 2:  # an open code span: end before it
        words.pop()
    kept = " ".join(words).rstrip(",;:(") or line[: limit - 2]
    return kept + " …"


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
        self._follow_ups: dict[int, cst.BaseExpression] = {}  # id of a replacement → the statement that follows it
        self.statement_calls: set[int] = set()
        self._autocast_types: set[int] = set()
        self._available_blocks: set[int] = set()  # ids of the bodies of `if torch.<cuda|accelerator>.is_available():`
        self._fixed_constants: set[int] = set()  # ids of `True`/`False` put in place of a call by a fix
        self._boolean_tests: set[int] = set()  # ids of expressions only tested for truth (if/while/assert/not)
        self._available_depth = 0  # how many such bodies the visit is inside: a fix adds no second guard there  # ids of replaced autocast device types (portable): gate the call  # ids of the site calls that are a statement of their own
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
                if ctx.follow_up is not None and id(original_node) not in self.statement_calls:
                    raise FixDeclined("the fix needs two statements, and this call is used as a value")
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
            if self._available_depth and isinstance(replacement, cst.IfExp) and self._is_availability(replacement.test) and isinstance(replacement.body, cst.Call):
                replacement = replacement.body.with_changes(lpar=[], rpar=[])  # (the enclosing `if` tests it already)
            if isinstance(replacement, cst.Name) and replacement.value in ("True", "False") and not isinstance(original_node, cst.Name):
                self._fixed_constants.add(id(replacement))
            if isinstance(replacement, cst.IfExp) and _is_guarded_action(replacement):
                self._guarded.append(replacement)
            if ctx.needs_accelerator and not self._available_depth:
                self._needs_accelerator.append(replacement)
            if ctx.follow_up is not None:
                self._follow_ups[id(replacement)] = ctx.follow_up
            if ctx.gate_autocast:
                self._autocast_types.add(id(replacement))
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
        if isinstance(updated_node.func, cst.Attribute) and updated_node.func.attr.value == "add_argument":
            updated_node = self._help_follows_device(original_node, updated_node)
        if self._autocast_types and any(id(a.value) in self._autocast_types for a in updated_node.args) and _cpu_gate.is_autocast(updated_node):
            args = _cpu_gate.gated(updated_node.args, _cpu_gate.cpu_gate(self.device_name))
            if args is not None:
                updated_node = updated_node.with_changes(args=args)
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

    def _help_follows_device(self, original: cst.Call, updated: cst.Call) -> cst.Call:
        """`add_argument("--device", default="cuda", help="cuda or cpu")`: once a fix has ported
        the default or the choices, the help text names the new device too (`neuron`, `xla`,
        `accelerator` for portable), so `--help` does not advertise a device the port no longer uses."""
        changed = False
        for before, after in zip(original.args, updated.args):
            keyword = before.keyword.value if before.keyword is not None else ""
            if keyword in ("default", "choices", "const") and not before.value.deep_equals(after.value) and "cuda" in _code(before.value):
                changed = True
        if not changed:
            return updated
        word = {"neuron": "neuron", "neuron-xla": "xla"}.get(self.target, "accelerator")
        args = list(updated.args)
        for i, arg in enumerate(args):
            if arg.keyword is not None and arg.keyword.value == "help" and isinstance(arg.value, cst.SimpleString) and _CUDA_WORD.search(arg.value.value):
                text = _CUDA_WORD.sub(lambda m: word if m.group().islower() else word.capitalize() if word != "xla" else "XLA", arg.value.value)
                args[i] = arg.with_changes(value=arg.value.with_changes(value=text))
        return updated.with_changes(args=args)

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
        follow_up = self._follow_ups.get(id(only.value)) if isinstance(only, cst.Expr) and isinstance(updated_node, cst.SimpleStatementLine) else None
        if follow_up is not None:
            second = cst.SimpleStatementLine(body=[cst.Expr(follow_up)])
            self._ported_lines.append(second)
            return cst.FlattenSentinel([updated_node, second])
        return updated_node

    def leave_Module(self, original_node: cst.Module, updated_node: cst.Module) -> cst.Module:
        return updated_node.with_changes(body=self._without_port_duplicates(updated_node.body))

    def visit_If(self, node: cst.If) -> None:
        self._boolean_tests.add(id(node.test))
        if self._is_availability(node.test):
            self._available_blocks.add(id(node.body))

    def visit_While(self, node: cst.While) -> None:
        self._boolean_tests.add(id(node.test))

    def visit_Assert(self, node: cst.Assert) -> None:
        self._boolean_tests.add(id(node.test))

    def visit_IfExp(self, node: cst.IfExp) -> None:
        self._boolean_tests.add(id(node.test))

    def visit_UnaryOperation(self, node: cst.UnaryOperation) -> None:
        if isinstance(node.operator, cst.Not):
            self._boolean_tests.add(id(node.expression))

    def leave_BooleanOperation(self, original_node: cst.BooleanOperation, updated_node: cst.BooleanOperation) -> cst.BaseExpression:
        """`x and True` → `x` (a fix answered a call with a constant): a reviewer would not leave it.
        `True and x` is `x` exactly; `x and True` is `x` where only its truth counts (a test) or
        where it is a bool already, else `bool(x)`."""
        if not self._fixed_constants or not isinstance(updated_node.operator, cst.And):
            return updated_node
        left, right = updated_node.left, updated_node.right
        if _is_fixed(left, self._fixed_constants, "True"):
            kept = right
        elif _is_fixed(right, self._fixed_constants, "True"):
            kept = left
            if id(original_node) not in self._boolean_tests and not _is_boolean(left):
                kept = cst.Call(func=cst.Name("bool"), args=[cst.Arg(left.with_changes(lpar=[], rpar=[]))])
        else:
            return updated_node
        if id(original_node) in self._boolean_tests:
            self._boolean_tests.add(id(kept))  # (an enclosing `and` sees the same test)
        return kept.with_changes(lpar=updated_node.lpar, rpar=updated_node.rpar) if updated_node.lpar else kept

    def leave_IfExp(self, original_node: cst.IfExp, updated_node: cst.IfExp) -> cst.BaseExpression:
        """`a if True else b` → `a` (the test became a constant through a fix)."""
        for constant, kept in (("True", updated_node.body), ("False", updated_node.orelse)):
            if _is_fixed(updated_node.test, self._fixed_constants, constant):
                return kept.with_changes(lpar=updated_node.lpar, rpar=updated_node.rpar) if updated_node.lpar else kept
        return updated_node

    def visit_IndentedBlock(self, node: cst.IndentedBlock) -> None:
        if id(node) in self._available_blocks:
            self._available_depth += 1

    def _is_availability(self, test: cst.BaseExpression) -> bool:
        """`torch.cuda.is_available()` / `torch.accelerator.is_available()`, alone or in an `and`."""
        if isinstance(test, cst.BooleanOperation) and isinstance(test.operator, cst.And):
            return self._is_availability(test.left) or self._is_availability(test.right)
        code = _code(test.with_changes(lpar=[], rpar=[]) if isinstance(test, cst.Call) else test)
        return code in (f"{self.torch_name}.cuda.is_available()", f"{self.torch_name}.accelerator.is_available()")

    def leave_IndentedBlock(self, original_node: cst.IndentedBlock, updated_node: cst.IndentedBlock):  # type: ignore[no-untyped-def]
        if id(original_node) in self._available_blocks:
            self._available_depth -= 1
        if not updated_node.body:
            return updated_node.with_changes(body=[cst.SimpleStatementLine(body=[cst.Pass()])])
        return updated_node.with_changes(body=self._without_port_duplicates(updated_node.body))

    def _without_port_duplicates(self, body: Sequence[cst.BaseStatement]) -> list[cst.BaseStatement]:
        """Drop a call statement that a fix made identical to the one right before it, or a
        reseed identical to an earlier one of the same block.

        `torch.manual_seed(s)` followed by `torch.cuda.manual_seed_all(s)` ports to the same call
        twice; the source had two different statements, so the second copy is the port's artefact.
        With other simple statements between them (`np.random.seed(s)`) the second
        `torch.manual_seed(s)` goes too, unless one of them rebinds a name of its arguments: the
        first one already seeds every device, and the second would restart the CPU stream, which
        the original's CUDA reseed did not touch.
        """
        kept: list[cst.BaseStatement] = []
        for statement in body:
            previous = kept[-1] if kept else None
            if (
                previous is not None
                and any(statement is line for line in self._ported_lines)
                and _is_call_statement(statement)
                and not any(line.comment for line in statement.leading_lines)  # type: ignore[attr-defined]
                and (_code_of(statement) == _code_of(previous) or _repeats_seed(statement, kept))
            ):
                continue  # (a comment above it would be lost with it, so then it stays)
            kept.append(statement)
        return kept


_CUDA_WORD = re.compile(r"(?<![\w-])cuda(?![\w-])", re.IGNORECASE)


def _repeats_seed(statement: cst.BaseStatement, before: Sequence[cst.BaseStatement]) -> bool:
    """`torch.manual_seed(s)` with the same call earlier in `before`, only simple statements that
    do not rebind a name of `s` between them."""
    code = _code_of(statement)
    if not re.fullmatch(r"\w+\.manual_seed\(.*\)", code, re.S):
        return False
    assert isinstance(statement, cst.SimpleStatementLine)
    args = {n.value for n in names_in(statement.body[0])}
    expanded = [s for e in before for s in (e.statements() if isinstance(e, partial_module.Opaque) else [e])]
    for earlier in reversed(expanded):
        if not isinstance(earlier, cst.SimpleStatementLine):
            return False
        if _code_of(earlier) == code:
            return True
        if any(isinstance(small, (cst.Assign, cst.AugAssign, cst.AnnAssign, cst.Import, cst.ImportFrom, cst.Global, cst.Nonlocal)) and args & {n.value for n in names_in(small)} for small in earlier.body):
            return False
    return False


def _is_fixed(node: cst.BaseExpression, fixed: set[int], value: str) -> bool:
    return id(node) in fixed and isinstance(node, cst.Name) and node.value == value


_BOOLEAN_CALLS = frozenset({"bool", "isinstance", "issubclass", "hasattr", "callable", "all", "any"})


def _is_boolean(node: cst.BaseExpression) -> bool:
    """Is this expression a bool by its form (a comparison, `not x`, `is_*()`/`has_*()`)?"""
    if isinstance(node, cst.Comparison) or (isinstance(node, cst.UnaryOperation) and isinstance(node.operator, cst.Not)):
        return True
    if isinstance(node, cst.BooleanOperation):
        return _is_boolean(node.left) and _is_boolean(node.right)
    if isinstance(node, cst.Name):
        return node.value in ("True", "False")
    if isinstance(node, cst.Call):
        name = (cst.helpers.get_full_name_for_node(node.func) or "").split(".")[-1]
        return name in _BOOLEAN_CALLS or name.startswith(("is_", "has_"))
    return False


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
    if isinstance(statement, partial_module.Opaque):  # (the last of the statements it stands for)
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
