"""Rewrite `torch.set_default_tensor_type(T)` (rule PT009) as the two settings PyTorch's own
deprecation message names: `torch.set_default_dtype(<T's dtype>)`, and for a `torch.cuda` type
`torch.set_default_device(<the target's device>)` on the next line.

`T` is a type object (`torch.cuda.HalfTensor`, `th.FloatTensor`) or its name as a string
(`"torch.cuda.HalfTensor"`). A type imported bare (`from torch.cuda import HalfTensor`) or held in
a variable does not say whether it is a CUDA type, so it is left for a human.
"""

from __future__ import annotations

import libcst as cst

from porttool.rewrite.replacements import FixContext

DTYPES = {"FloatTensor": "float32", "DoubleTensor": "float64", "HalfTensor": "float16", "BFloat16Tensor": "bfloat16"}


def _type_name(value: cst.BaseExpression) -> str | None:
    if isinstance(value, cst.SimpleString):
        text = value.evaluated_value
        return text if isinstance(text, str) else None
    return cst.helpers.get_full_name_for_node(value)


def rewrite(node: cst.CSTNode, ctx: FixContext) -> cst.CSTNode | cst.RemovalSentinel | None:
    arg = node.args[0] if isinstance(node, cst.Call) and len(node.args) == 1 else None
    if arg is None or arg.star or (arg.keyword is not None and arg.keyword.value != "t"):
        return ctx.decline("not a one-argument `set_default_tensor_type(t)` call")
    name = _type_name(arg.value)
    parts = name.split(".") if name else []
    if len(parts) < 2 or parts[-1] not in DTYPES:
        return ctx.decline("the tensor type is not spelled out (`torch.cuda.HalfTensor`, `torch.FloatTensor`)")
    on_cuda = parts[-2] == "cuda"
    if not on_cuda and parts[0] != ctx.torch_name and parts[0] != "torch":
        return ctx.decline(f"`{name}` is not a torch tensor type")
    ctx.add_import("torch")  # (a no-op when torch is imported; templates are renamed to its alias)
    dtype_call = ctx.parse(f"torch.set_default_dtype(torch.{DTYPES[parts[-1]]})")
    if on_cuda:
        if ctx.target == "neuron-xla":
            return ctx.decline("a global default device is not how PyTorch/XLA places lazy tensors")
        ctx.follow_up = ctx.parse("torch.set_default_device({device})", device=ctx.accelerator())
    return dtype_call.with_changes(lpar=node.lpar, rpar=node.rpar)
