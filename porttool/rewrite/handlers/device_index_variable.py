"""Rewrite an integer device held in a variable, `.to(local_rank)` (rule PT011).

The site is a device argument (`local_rank` in `.to(local_rank)`, `device=gpu_id`) or a whole
`torch.device(rank)`:

- `portable`: `torch.device(DEVICE.type, <index>)`: the same index of the current accelerator,
  and on a CPU-only machine the CPU (which ignores the index) instead of an error;
- `neuron-xla`: `torch_xla.device()` (one NeuronCore per process; the index goes).
`neuron` keeps the integer (it already is an index of the current accelerator, neuron).
"""

from __future__ import annotations

import libcst as cst

from porttool.rewrite.replacements import FixContext


def rewrite(node: cst.CSTNode, ctx: FixContext) -> cst.CSTNode | cst.RemovalSentinel | None:
    if isinstance(node, cst.Call):
        if len(node.args) != 1:
            return ctx.decline("`torch.device(...)` with more than the index")
        index = node.args[0].value
    elif isinstance(node, cst.Arg):
        index = node.value
    else:
        return ctx.decline("not a device argument")
    device: cst.BaseExpression
    if ctx.target == "portable":
        device = ctx.parse("torch.device({device}.type, {index})", device=ctx.accelerator(), index=index)
    elif ctx.target == "neuron-xla":
        device = ctx.accelerator()
    else:
        return ctx.decline("an integer device already names the current accelerator")
    if isinstance(node, cst.Call):
        return device.with_changes(lpar=node.lpar, rpar=node.rpar)
    return node.with_changes(value=device)
