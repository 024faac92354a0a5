"""Replace `dist.Backend.NCCL` with the current device's default backend (rule PT506, `portable`).

`torch.distributed.get_default_backend_for_device(device)` (PyTorch ≥ 2.6) returns the backend
PyTorch pairs with a device type: `"nccl"` for CUDA, so nothing changes there, `"gloo"` for CPU,
`"xccl"` for XPU, and whatever an out-of-tree backend such as TorchNeuron registers. It is passed
the module-level `DEVICE` the portable target defines (the current accelerator, else CPU).

The module expression the source used is kept (`dist.Backend.NCCL` →
`dist.get_default_backend_for_device(DEVICE)`); a bare `Backend.NCCL` (from
`from torch.distributed import Backend`) keeps that import style:
`from torch.distributed import get_default_backend_for_device`.
"""

from __future__ import annotations

import libcst as cst

from porttool.rewrite.replacements import FixContext


def rewrite(node: cst.CSTNode, ctx: FixContext) -> cst.CSTNode | cst.RemovalSentinel | None:
    if not isinstance(node, cst.Attribute):
        return ctx.decline("expected an attribute such as `dist.Backend.NCCL`")
    owner = node.value
    if isinstance(owner, cst.Attribute) and owner.attr.value == "Backend":
        module: cst.BaseExpression = owner.value
        return ctx.parse(
            "{module}.get_default_backend_for_device({device})",
            module=module,
            device=ctx.accelerator(),
        )
    ctx.add_import("torch.distributed", "get_default_backend_for_device")
    return ctx.parse("get_default_backend_for_device({device})", device=ctx.accelerator())
