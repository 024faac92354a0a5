"""Rewrite `dist.is_nccl_available()` to ask for the target's process-group backend (rule PT502).

`torch.distributed.is_backend_available(name)` (PyTorch ≥ 2.2) is the backend-neutral form of
`is_nccl_available()`. The call keeps the module expression the source used, so
`dist.is_nccl_available()` becomes `dist.is_backend_available("neuron")` and
`torch.distributed.is_nccl_available()` becomes `torch.distributed.is_backend_available("neuron")`;
a bare imported name (`from torch.distributed import is_nccl_available`) becomes a bare
`is_backend_available(...)` with its own import (the old import is then unused and removed).

`neuron` asks for `"neuron"`, `neuron-xla` for `"xla"` (registered by the rule's import of
`torch_xla.distributed.xla_backend`). `portable` has no faithful equivalent and is not routed here.
"""

from __future__ import annotations

import libcst as cst

from porttool.rewrite.replacements import FixContext

_BACKEND_FOR_TARGET = {"neuron": "neuron", "neuron-xla": "xla"}


def rewrite(node: cst.CSTNode, ctx: FixContext) -> cst.CSTNode | cst.RemovalSentinel | None:
    backend = _BACKEND_FOR_TARGET.get(ctx.target)
    if backend is None:
        return ctx.decline("no backend-neutral equivalent of asking for NCCL on this target")
    if not isinstance(node, cst.Call) or node.args:
        return ctx.decline("`is_nccl_available()` takes no arguments; this call is unexpected")
    func = node.func
    if isinstance(func, cst.Attribute):
        new_func: cst.BaseExpression = func.with_changes(attr=cst.Name("is_backend_available"))
    else:
        ctx.add_import("torch.distributed", "is_backend_available")
        new_func = cst.Name("is_backend_available")
    return node.with_changes(func=new_func, args=[cst.Arg(cst.SimpleString(f'"{backend}"'))])
