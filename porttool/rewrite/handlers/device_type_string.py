"""Rewrite a `"cuda"` device *type* (rule PT204): `torch.autocast("cuda")`, `device_type="cuda"`,
`torch.amp.GradScaler("cuda")`, `torch.get_device_module("cuda")`.

These parameters take a device type, never an index, so the result is a plain type string:
`"neuron"`, `DEVICE.type` (portable: the current accelerator's type, `"cpu"` without one) or
`"xla"`. In a portable `torch.autocast(...)` the call's `enabled=` also gets
`DEVICE.type != "cpu"` (the transform adds it, `_cpu_gate`): the original cast nothing on a
CPU-only machine. An index in the original (`"cuda:0"`, rejected by PyTorch here anyway) is dropped.
"""

from __future__ import annotations

import libcst as cst

from porttool.rewrite.replacements import FixContext
from porttool.rewrite.handlers import _cuda_strings


def rewrite(node: cst.CSTNode, ctx: FixContext) -> cst.CSTNode | cst.RemovalSentinel | None:
    parsed = _cuda_strings.parse(node)
    if parsed is None:
        return ctx.decline("not a recognisable CUDA device string")
    if ctx.target == "portable":
        ctx.gate_autocast = True  # inside torch.autocast(...): off on a CPU-only machine, like the original
        return _cuda_strings.device_type_of(ctx)
    return parsed.literal("neuron" if ctx.target == "neuron" else "xla")
