"""Build the replacement for one finding: a rule's template or handler, bound to the libcst node.

A fix is a value: this module turns (site, rule, target) + the matched libcst node into a
replacement node plus the imports it needs. It never edits a file; `transform.py` does that.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import libcst as cst

from porttool.model import Site, TargetFix

PORTABLE_DEVICE_NAME = "DEVICE"
PORTABLE_DEVICE_EXPR = 'torch.accelerator.current_accelerator(check_available=True) or torch.device("cpu")'
# Module-level definitions a fix may need in the ported file, inserted once after its imports
# (no runtime dependency on porttool). Each is (imports it needs, code; `torch.` is renamed to
# the file's alias).
SUPPORT_DEFINITIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "AcceleratorEvent": (
        ("time", "torch"),
        '''
class AcceleratorEvent:
    """`torch.Event` on an accelerator; on a machine without one, wall-clock timing with the same methods."""

    def __new__(cls, **kwargs):
        if torch.accelerator.is_available():
            return torch.Event(**kwargs)
        return super().__new__(cls)

    def __init__(self, **kwargs):
        self.time = None

    def record(self, stream=None):
        self.time = time.perf_counter()

    def wait(self, stream=None):
        pass

    def query(self):
        return True

    def synchronize(self):
        pass

    def elapsed_time(self, end_event):
        return (end_event.time - self.time) * 1000.0
''',
    ),
}
_PLACEHOLDER = re.compile(r"\{(receiver|args|arg\d+|value|accelerator)\}")


class FixDeclined(Exception):
    """This site cannot be fixed safely; the message says why."""


@dataclass
class FixContext:
    """What a template or handler may use to build a replacement. One per applied site."""

    target: str
    unsafe_allowed: bool
    torch_name: str  # the local name bound to the `torch` module ("torch", or "th" for `import torch as th`)
    device_name: str = PORTABLE_DEVICE_NAME
    imports: list[tuple[str, str | None, str | None]] = field(default_factory=list)
    needs_device_constant: bool = False
    definitions: list[str] = field(default_factory=list)  # names in SUPPORT_DEFINITIONS the fix uses
    needs_accelerator: bool = False  # the replacement raises without an accelerator: guard its statement
    gate_autocast: bool = False  # the replacement is an autocast's device type: keep the call off on the CPU (handlers/_cpu_gate.py)
    follow_up: cst.BaseExpression | None = None  # a second statement right after the fixed one (a call on its own line only)
    declined: str | None = None

    # ------------------------------------------------------------------ helpers for handlers
    def add_import(self, module: str, obj: str | None = None, asname: str | None = None) -> None:
        if module == "torch" and obj is None and self.torch_name != "torch":
            return  # torch is already imported under an alias; templates are renamed to it
        self.imports.append((module, obj, asname))

    def decline(self, reason: str) -> Any:
        """Record why this site is left alone; returns None so `return ctx.decline(...)` reads well."""
        self.declined = reason
        return None

    def parse(self, template: str, **nodes: object) -> cst.BaseExpression:
        """Parse an expression with `{name}` placeholders bound to the given nodes (formatting kept)."""
        return self._bind(template, nodes)

    def use_definition(self, name: str) -> cst.Name:
        """A module-level helper from SUPPORT_DEFINITIONS, inserted into the file once."""
        imports, _ = SUPPORT_DEFINITIONS[name]
        for module in imports:
            self.add_import(module)
        self.definitions.append(name)
        return cst.Name(name)

    def accelerator(self) -> cst.BaseExpression:
        if self.target == "neuron":
            return cst.SimpleString('"neuron"')
        if self.target == "neuron-xla":
            self.add_import("torch_xla")
            return cst.parse_expression("torch_xla.device()")
        self.needs_device_constant = True
        self.add_import("torch")
        return cst.Name(self.device_name)

    def device_literal(self, index: str | None) -> cst.BaseExpression:
        if self.target == "neuron":
            return cst.SimpleString(f'"neuron:{index}"' if index is not None else '"neuron"')
        return self.accelerator()

    # ------------------------------------------------------------------ template binding
    def _bind(self, template: str, nodes: dict[str, object]) -> cst.BaseExpression:
        names: dict[str, object] = {}

        def placeholder(match: re.Match[str]) -> str:
            key = match.group(1)
            if key == "accelerator":
                names[f"__pt_{key}__"] = self.accelerator()
            elif key in nodes:
                names[f"__pt_{key}__"] = nodes[key]
            else:
                raise FixDeclined(f"the template needs {{{key}}}, which this site does not have")
            return f"__pt_{key}__"

        text = re.sub(r"\{(\w+)\}", placeholder, template)
        try:
            expr = cst.parse_expression(text)
        except cst.ParserSyntaxError as exc:  # a broken template is a rule bug
            raise FixDeclined(f"template does not parse: {exc}") from exc
        return expr.visit(_Substitute(names, self.torch_name))  # type: ignore[return-value]


class _Substitute(cst.CSTTransformer):
    """Put the bound nodes in place of the placeholder names; rename `torch` to the file's alias."""

    def __init__(self, names: dict[str, object], torch_name: str) -> None:
        self.names = names
        self.torch_name = torch_name

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> cst.Call:
        args: list[cst.Arg] = []
        spliced = False
        for arg in updated.args:
            if isinstance(arg.value, cst.Name) and arg.value.value == "__pt_args__" and arg.keyword is None:
                bound = self.names.get("__pt_args__")
                if isinstance(bound, ArgList):
                    args.extend(bound.args)
                    spliced = True
                    continue
            args.append(arg)
        if not spliced:
            return updated
        if args:  # noqa: SIM102
            last = args[-1]
            if isinstance(last.comma, cst.Comma) and not getattr(self.names.get("__pt_args__"), "trailing_comma", False):
                args[-1] = last.with_changes(comma=cst.MaybeSentinel.DEFAULT)
            # a spliced list followed by more template arguments needs commas between them
            args = [
                a.with_changes(comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")))
                if i < len(args) - 1 and a.comma is cst.MaybeSentinel.DEFAULT
                else a
                for i, a in enumerate(args)
            ]
        bound = self.names.get("__pt_args__")
        whitespace = bound.whitespace_before_args if isinstance(bound, ArgList) else updated.whitespace_before_args
        return updated.with_changes(args=args, whitespace_before_args=whitespace)

    def leave_Name(self, original: cst.Name, updated: cst.Name) -> cst.BaseExpression:
        bound = self.names.get(updated.value)
        if bound is not None and not isinstance(bound, ArgList):
            return bound  # type: ignore[return-value]
        if updated.value == "torch" and self.torch_name != "torch":
            return updated.with_changes(value=self.torch_name)
        return updated


@dataclass(frozen=True)
class ArgList:
    """A call's argument list, spliced into a template's call where `{args}` stands."""

    args: tuple[cst.Arg, ...]
    whitespace_before_args: cst.BaseParenthesizableWhitespace = cst.SimpleWhitespace("")

    @property
    def trailing_comma(self) -> bool:
        return bool(self.args) and isinstance(self.args[-1].comma, cst.Comma)


def bind_nodes(node: cst.CSTNode) -> dict[str, object]:
    """The placeholders a matched node offers: receiver, args (an ArgList), argN, value."""
    nodes: dict[str, object] = {}
    call = node if isinstance(node, cst.Call) else None
    if call is not None:
        nodes["args"] = ArgList(tuple(call.args), call.whitespace_before_args)
        positional = [a for a in call.args if a.keyword is None and not a.star]
        for i, arg in enumerate(positional):
            nodes[f"arg{i}"] = arg.value
        if isinstance(call.func, cst.Attribute):
            nodes["receiver"] = call.func.value
    elif isinstance(node, cst.Attribute):
        nodes["receiver"] = node.value
    elif isinstance(node, cst.Arg):
        nodes["value"] = node.value
    elif isinstance(node, (cst.Assign, cst.AnnAssign, cst.AugAssign)) and node.value is not None:
        nodes["value"] = node.value
    return nodes


def build_replacement(site: Site, fix: TargetFix, node: cst.CSTNode, ctx: FixContext) -> cst.CSTNode | cst.RemovalSentinel:
    """The replacement for one site's node. Raises FixDeclined when the site can't be fixed."""
    for statement in fix.imports:
        module, obj = _parse_import(statement)
        ctx.add_import(module, obj)
    if fix.action.value == "remove":
        return cst.RemoveFromParent()
    if fix.handler:
        from porttool.rewrite.handlers import load_handler

        try:
            result = load_handler(fix.handler)(node, ctx)
        except FixDeclined:
            raise
        except Exception as exc:  # a handler bug must not stop the run: the site stays as it is
            raise FixDeclined(f"handler {fix.handler} failed: {type(exc).__name__}: {exc}") from exc
        if result is None:
            raise FixDeclined(ctx.declined or f"handler {fix.handler} left this site alone")
        return result
    assert fix.template is not None
    expr = ctx.parse(fix.template, **bind_nodes(node))
    if isinstance(node, cst.Arg):
        return node.with_changes(value=expr)
    if isinstance(node, (cst.Assign, cst.AnnAssign, cst.AugAssign)):
        return cst.Expr(value=expr)
    return expr


def _parse_import(statement: str) -> tuple[str, str | None]:
    m = re.match(r"^from ([\w.]+) import (\w+)$", statement)
    if m:
        return m.group(1), m.group(2)
    return statement.removeprefix("import ").strip(), None
