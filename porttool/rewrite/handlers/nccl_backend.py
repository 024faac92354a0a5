"""Rewrite a literal NCCL process-group backend argument for the target (rule PT501).

- `neuron`: `"nccl"` → `"neuron"`, the process-group backend TorchNeuron registers.
- `neuron-xla`: `"nccl"` → `"xla"`; the rule's `imports` add `import torch_xla.distributed.xla_backend`,
  whose import registers that backend (the rewriter keeps it although no name from it is used).
- `portable`: the argument is dropped. `init_process_group()` without a backend creates one backend
  per device type PyTorch knows (`cpu:gloo,cuda:nccl,xpu:xccl`, plus any an out-of-tree device such
  as TorchNeuron registers), and `new_group()` without one reuses the default group's backend.
  (The rule marks this unsafe: `dist.get_backend()` then answers "undefined" instead of "nccl".)

A per-device spec (`"cpu:gloo,cuda:nccl"`) is dropped for `portable` as well (the default already
pairs a backend with each device type) but declined for `neuron` and `neuron-xla`: which pair should
replace `cuda:nccl` there, and whether CPU tensors still need gloo, is the author's decision.

The replacement keeps the quote character of the original literal.
"""

from __future__ import annotations

import libcst as cst

from porttool.rewrite.replacements import FixContext

_BACKEND_FOR_TARGET = {"neuron": "neuron", "neuron-xla": "xla"}


def rewrite(node: cst.CSTNode, ctx: FixContext) -> cst.CSTNode | cst.RemovalSentinel | None:
    if not isinstance(node, cst.Arg) or not isinstance(node.value, cst.SimpleString):
        return ctx.decline("the backend is not a plain string literal")
    spec = node.value.evaluated_value
    if not isinstance(spec, str):
        return ctx.decline("the backend is not a text literal")
    if ctx.target == "portable":
        return cst.RemoveFromParent()
    backend = _BACKEND_FOR_TARGET.get(ctx.target)
    if backend is None or spec.strip().lower() != "nccl":
        return ctx.decline(
            f"{spec!r} names a backend per device type; replace its `cuda:nccl` pair by hand"
        )
    quote = node.value.quote
    return node.with_changes(value=cst.SimpleString(f"{quote}{backend}{quote}"))
