"""Rewrite an integer device argument, `device=0` (rule PT006).

PyTorch reads a bare integer device as "index N of the current accelerator" (CUDA on a CUDA
machine, and on older releases always CUDA). The rewrite names the device explicitly:
`"neuron:N"` for neuron, `f"{DEVICE.type}:N"` for portable (still valid on a CPU-only machine,
where the bare integer raises), `torch_xla.device()` for neuron-xla (one NeuronCore per process).
Only integer literals are rewritten; the matcher reports nothing else.
"""

from __future__ import annotations

import libcst as cst

from porttool.rewrite.replacements import FixContext
from porttool.rewrite.handlers import _cuda_strings


def rewrite(node: cst.CSTNode, ctx: FixContext) -> cst.CSTNode | cst.RemovalSentinel | None:
    if not isinstance(node, cst.Arg) or not isinstance(node.value, cst.Integer):
        return ctx.decline("only an integer literal device is rewritten")
    index = node.value.value
    value: cst.BaseExpression
    if ctx.target == "portable":
        value = _cuda_strings.indexed_fstring(ctx, index, None)
    else:
        value = ctx.device_literal(index)
    return node.with_changes(value=value)
