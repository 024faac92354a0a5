"""Give a device-selection chain that lacks the target its target (rule PT011).

The chain tests CUDA and other backends and falls back to the CPU (`"cuda" if
torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"`, the same as
an `if/elif/else`, or a run of `if ...: return <device>`); on the target none of its tests holds.

- `neuron`: a neuron link goes first, spelled like the CUDA link (`"neuron"`, `torch.device("neuron")`,
  an index kept), tested by `torch.accelerator.is_available() and
  torch.accelerator.current_accelerator().type == "neuron"` — false wherever the original ran
  (CUDA, MPS, CPU), so the other links keep working there;
- `portable`: the chain becomes the module's `DEVICE` (the current accelerator, else the CPU;
  `DEVICE.type` where the chain chose strings); a run of `if ...: return` gets an accelerator link first;
- `neuron-xla`: the chain becomes `torch_xla.device()` (`"xla"` for strings); a run of returns is
  declined (there is no exact availability test: see PT101).
"""

from __future__ import annotations

import libcst as cst

from porttool.rewrite.handlers import _cuda_strings
from porttool.rewrite.replacements import FixContext

NEURON_TEST = 'torch.accelerator.is_available() and torch.accelerator.current_accelerator().type == "neuron"'
_CODE = cst.Module(body=[])


def _is_cuda_test(test: cst.BaseExpression) -> bool:
    return _CODE.code_for_node(test).replace(" ", "").endswith("cuda.is_available()")


def _unwrap(value: cst.BaseExpression) -> tuple[cst.BaseExpression, cst.Call | None]:
    if isinstance(value, cst.Call) and len(value.args) == 1 and isinstance(value.func, cst.Attribute) and value.func.attr.value == "device":
        return value.args[0].value, value
    return value, None


def _renamed(value: cst.BaseExpression, name: str) -> cst.BaseExpression | None:
    inner, call = _unwrap(value)
    parsed = _cuda_strings.parse(inner)
    if parsed is None:
        return None
    renamed = parsed.renamed(name)
    return call.with_changes(args=[call.args[0].with_changes(value=renamed)]) if call is not None else renamed


def _accelerator(ctx: FixContext, value: cst.BaseExpression) -> cst.BaseExpression:
    """What replaces the chain on portable / neuron-xla: a device where it chose devices, else a string."""
    _, call = _unwrap(value)
    if call is not None:
        return ctx.accelerator()
    if ctx.target == "neuron-xla":
        ctx.add_import("torch_xla")
        return cst.SimpleString('"xla"')
    return ctx.parse("{accelerator}.type")


def _links(node: cst.If) -> list[cst.If]:
    links = [node]
    while isinstance(links[-1].orelse, cst.If):
        links.append(links[-1].orelse)
    return links


def _value_of(body: cst.BaseSuite) -> cst.BaseExpression | None:
    """The device a one-statement branch assigns or returns."""
    statements = body.body if isinstance(body, cst.IndentedBlock) else [body]
    line = statements[0] if len(statements) == 1 else None
    small = line.body[0] if isinstance(line, cst.SimpleStatementLine) and len(line.body) == 1 else line if isinstance(line, cst.BaseSmallStatement) else None
    if isinstance(small, (cst.Assign, cst.Return)):
        return small.value
    return None


def _with_value(body: cst.BaseSuite, value: cst.BaseExpression) -> cst.BaseSuite:
    class Swap(cst.CSTTransformer):
        def leave_Assign(self, original: cst.Assign, updated: cst.Assign) -> cst.Assign:
            return updated.with_changes(value=value)

        def leave_Return(self, original: cst.Return, updated: cst.Return) -> cst.Return:
            return updated.with_changes(value=value)

    return body.visit(Swap())  # type: ignore[return-value]


def rewrite(node: cst.CSTNode, ctx: FixContext) -> cst.CSTNode | cst.FlattenSentinel[cst.BaseStatement] | None:
    ctx.add_import("torch")
    if isinstance(node, cst.IfExp):
        return _ifexp(node, ctx)
    if isinstance(node, cst.If):
        return _if(node, ctx)
    return ctx.decline("not a device-selection chain")


def _ifexp(node: cst.IfExp, ctx: FixContext) -> cst.BaseExpression | None:
    current: cst.BaseExpression = node
    cuda_value = None
    while isinstance(current, cst.IfExp):
        if _is_cuda_test(current.test):
            cuda_value = current.body
        current = current.orelse
    if cuda_value is None:
        return ctx.decline("no CUDA link in the chain")
    if ctx.target != "neuron":
        return _accelerator(ctx, cuda_value)
    value = _renamed(cuda_value, "neuron")
    if value is None:
        return ctx.decline("the CUDA link is not a recognisable device string")
    return cst.IfExp(test=ctx.parse(NEURON_TEST), body=value, orelse=node.with_changes(lpar=[], rpar=[]), lpar=node.lpar, rpar=node.rpar)


def _if(node: cst.If, ctx: FixContext) -> cst.CSTNode | cst.FlattenSentinel[cst.BaseStatement] | None:
    links = _links(node)
    cuda = next((link for link in links if _is_cuda_test(link.test)), None)
    cuda_value = _value_of(cuda.body) if cuda is not None else None
    if cuda is None or cuda_value is None:
        return ctx.decline("no CUDA link in the chain")
    run_of_returns = node.orelse is None
    if ctx.target == "neuron" or (run_of_returns and ctx.target == "portable"):
        if ctx.target == "neuron":
            value, test = _renamed(cuda_value, "neuron"), ctx.parse(NEURON_TEST)
        else:
            value, test = _accelerator(ctx, cuda_value), ctx.parse("torch.accelerator.is_available()")
        if value is None:
            return ctx.decline("the CUDA link is not a recognisable device string")
        first = cst.If(test=test, body=_with_value(cuda.body, value), leading_lines=node.leading_lines)
        if run_of_returns:
            return cst.FlattenSentinel([first, node.with_changes(leading_lines=[])])
        return first.with_changes(orelse=node.with_changes(leading_lines=[]))
    if run_of_returns:
        return ctx.decline("a run of `if ...: return` has no one place to put the XLA device")
    body = _with_value(cuda.body, _accelerator(ctx, cuda_value))
    statements = body.body if isinstance(body, cst.IndentedBlock) else [body]
    statement = statements[0]
    return statement.with_changes(leading_lines=[*node.leading_lines, *getattr(statement, "leading_lines", [])])  # type: ignore[no-any-return]
