"""Rewrite `torch.cuda.amp.custom_fwd` / `custom_bwd` as `torch.amp.custom_fwd(device_type=...)`
(rules PT205 for the bare decorator, PT206 for the called form).

`torch.amp.custom_fwd(fwd=None, *, device_type, cast_inputs=None)` needs the device type as a
keyword, so:

- bare `@custom_fwd` (a Name/Attribute) → `@torch.amp.custom_fwd(device_type=...)`;
- called `@custom_fwd(cast_inputs=torch.float32)` → `@torch.amp.custom_fwd(device_type=..., cast_inputs=torch.float32)`.

The device type is `"neuron"`, `DEVICE.type` (portable) or `"xla"`.
"""

from __future__ import annotations

import libcst as cst

from porttool.rewrite.replacements import FixContext

_EQUAL = cst.AssignEqual(cst.SimpleWhitespace(""), cst.SimpleWhitespace(""))
_COMMA = cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))


def _name(node: cst.BaseExpression) -> str:
    return node.attr.value if isinstance(node, cst.Attribute) else node.value if isinstance(node, cst.Name) else ""


def rewrite(node: cst.CSTNode, ctx: FixContext) -> cst.CSTNode | cst.RemovalSentinel | None:
    callee = node.func if isinstance(node, cst.Call) else node
    if not isinstance(callee, (cst.Name, cst.Attribute)):
        return ctx.decline("not a custom_fwd/custom_bwd reference")
    name = _name(callee)
    if name not in ("custom_fwd", "custom_bwd"):
        return ctx.decline(f"unexpected name {name!r}")
    if ctx.target == "portable":
        device: cst.BaseExpression = ctx.parse("{device}.type", device=ctx.accelerator())
    else:
        device = cst.SimpleString('"neuron"' if ctx.target == "neuron" else '"xla"')
    ctx.add_import("torch")  # the replacement spells `torch.`; a no-op when torch is imported
    new = ctx.parse(f"torch.amp.{name}()")
    assert isinstance(new, cst.Call)
    device_arg = cst.Arg(device, keyword=cst.Name("device_type"), equal=_EQUAL)
    if not isinstance(node, cst.Call):
        return new.with_changes(args=[device_arg])
    if any(a.keyword is None or a.star for a in node.args):
        return ctx.decline("positional arguments: only keyword `cast_inputs=` is expected here")
    args = [device_arg.with_changes(comma=_COMMA) if node.args else device_arg, *node.args]
    return node.with_changes(func=new.func, args=args)
