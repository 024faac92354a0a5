"""Rewrite `.cuda(...)` as `.to(<device>, ...)` (rule PT001).

`Tensor.cuda(device=None, non_blocking=False, memory_format=...)` and `Module.cuda(device=None)`
become `.to(...)` with the same keywords. The device argument (first positional or `device=`):

- absent: the target's device (`"neuron"`, `DEVICE`, `torch_xla.device()`);
- an integer literal `N` (or a `"cuda:N"` string): `"neuron:N"` for neuron,
  `f"{DEVICE.type}:N"` for portable (the index is kept, and `"cpu:N"` still works without an
  accelerator), `torch_xla.device()` for neuron-xla (one NeuronCore per process);
- any other expression `E` (`local_rank`, `args.gpu`, a `torch.device`): `.to(E)` on neuron and
  portable — PyTorch reads a bare integer device as an index of the current accelerator, and a
  `torch.device`/string passes through (its own `"cuda"` is another rule's finding);
  neuron-xla drops it for the process's device.

A second positional argument of `Tensor.cuda` is `non_blocking`; it is kept as `non_blocking=`,
because the second positional parameter of `Tensor.to(device, ...)` is `dtype`.
"""

from __future__ import annotations

import libcst as cst

from porttool.rewrite.replacements import FixContext
from porttool.rewrite.handlers import _cuda_strings

_POSITIONAL_AFTER_DEVICE = ("non_blocking", "memory_format")


def _device(value: cst.BaseExpression | None, ctx: FixContext) -> cst.BaseExpression | None:
    if value is None:
        return ctx.device_literal(None)
    if isinstance(value, cst.Integer):
        if ctx.target == "neuron":
            return ctx.device_literal(value.value)
        if ctx.target == "portable":
            return _cuda_strings.indexed_fstring(ctx, value.value, None)
        return ctx.accelerator()
    parsed = _cuda_strings.parse(value)
    if parsed is not None:
        if ctx.target == "neuron":
            return parsed.renamed("neuron")
        if ctx.target == "portable" and parsed.has_index:
            return _cuda_strings.portable_string(ctx, parsed)
        return ctx.accelerator()
    if ctx.target == "neuron-xla":
        return ctx.accelerator()
    return value


def rewrite(node: cst.CSTNode, ctx: FixContext) -> cst.CSTNode | cst.RemovalSentinel | None:
    if not isinstance(node, cst.Call) or not isinstance(node.func, cst.Attribute):
        return ctx.decline("not a `.cuda(...)` method call")
    if any(arg.star for arg in node.args):
        return ctx.decline("`*args`/`**kwargs` hide which argument is the device")
    device_value: cst.BaseExpression | None = None
    rest: list[cst.Arg] = []
    positional_seen = 0
    for arg in node.args:
        if arg.keyword is None:
            if positional_seen == 0:
                device_value = arg.value
            elif positional_seen <= len(_POSITIONAL_AFTER_DEVICE):
                name = _POSITIONAL_AFTER_DEVICE[positional_seen - 1]
                rest.append(arg.with_changes(keyword=cst.Name(name), equal=cst.AssignEqual(cst.SimpleWhitespace(""), cst.SimpleWhitespace(""))))
            else:
                return ctx.decline("too many positional arguments for `.cuda()`")
            positional_seen += 1
        elif arg.keyword.value == "device":
            device_value = arg.value
        else:
            rest.append(arg)
    device = _device(device_value, ctx)
    if device is None:
        return ctx.decline("the device argument cannot be mapped")
    comma = cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
    args = [cst.Arg(device, comma=comma if rest else cst.MaybeSentinel.DEFAULT)]
    for i, arg in enumerate(rest):
        last = i == len(rest) - 1
        args.append(arg.with_changes(comma=cst.MaybeSentinel.DEFAULT if last else (arg.comma if isinstance(arg.comma, cst.Comma) else comma)))
    return node.with_changes(func=node.func.with_changes(attr=cst.Name("to")), args=args)
