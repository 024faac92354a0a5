"""Rewrite a legacy CUDA tensor-type constructor, `torch.cuda.FloatTensor(...)` (rule PT008).

The legacy constructors take either sizes or data, and which one is only visible from the
arguments, so only unambiguous shapes are rewritten:

- no arguments → `torch.empty(0, dtype=..., device=...)` (an empty tensor, as before);
- integer literals only (`FloatTensor(3, 4)`) → `torch.empty(3, 4, dtype=..., device=...)`
  (uninitialised, as before); one unpacked argument (`FloatTensor(*shape)`) likewise;
- one list/tuple literal (`LongTensor([1, 2])`) → `torch.tensor([1, 2], dtype=..., device=...)`;
- anything else (a variable could be a size or a sequence) is declined and reported.

The dtype comes from the class name; the device is the target's device.
"""

from __future__ import annotations

import libcst as cst

from porttool.rewrite.replacements import FixContext

DTYPES = {
    "FloatTensor": "float32",
    "DoubleTensor": "float64",
    "HalfTensor": "float16",
    "BFloat16Tensor": "bfloat16",
    "LongTensor": "int64",
    "IntTensor": "int32",
    "ShortTensor": "int16",
    "CharTensor": "int8",
    "ByteTensor": "uint8",
    "BoolTensor": "bool",
}


def rewrite(node: cst.CSTNode, ctx: FixContext) -> cst.CSTNode | cst.RemovalSentinel | None:
    if not isinstance(node, cst.Call):
        return ctx.decline("not a call")
    func = node.func
    name = func.attr.value if isinstance(func, cst.Attribute) else func.value if isinstance(func, cst.Name) else ""
    dtype = DTYPES.get(name)
    if dtype is None:
        return ctx.decline(f"unknown legacy tensor type {name!r}")
    if len(node.args) == 1 and node.args[0].star == "*" and node.args[0].keyword is None:
        # `FloatTensor(*shape)`: unpacked sizes, the way shapes are passed around (torch.empty
        # also takes them unpacked)
        ctx.add_import("torch")
        return ctx.parse(f"torch.empty(*{{sizes}}, dtype=torch.{dtype}, device={{device}})", sizes=node.args[0].value, device=ctx.device_literal(None))
    if any(arg.keyword is not None or arg.star for arg in node.args):
        return ctx.decline("keyword or starred arguments: size or data cannot be told apart")
    values = [arg.value for arg in node.args]
    ctx.add_import("torch")  # the replacement spells `torch.`; a no-op when torch is imported
    device = ctx.device_literal(None)
    if not values:
        return ctx.parse(f"torch.empty(0, dtype=torch.{dtype}, device={{device}})", device=device)
    if all(isinstance(v, cst.Integer) for v in values):
        sizes = ", ".join(v.value for v in values)  # type: ignore[attr-defined]
        return ctx.parse(f"torch.empty({sizes}, dtype=torch.{dtype}, device={{device}})", device=device)
    if len(values) == 1 and isinstance(values[0], (cst.List, cst.Tuple)):
        return ctx.parse(f"torch.tensor({{data}}, dtype=torch.{dtype}, device={{device}})", data=values[0], device=device)
    return ctx.decline("the argument could be a size or data; port it by hand (`torch.empty` or `torch.tensor`)")
