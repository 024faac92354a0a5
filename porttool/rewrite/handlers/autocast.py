"""Rewrite `torch.cuda.amp.autocast(...)` as `torch.autocast(<device type>, ...)` (rule PT201).

Works for every use of the call: `with autocast():`, `@autocast()` as a decorator, and a call
stored in a variable. `torch.cuda.amp.autocast(enabled, dtype, cache_enabled)` takes those three
positionally; in `torch.autocast(device_type, dtype, enabled, cache_enabled)` the order differs,
so positional arguments become keywords.

- `neuron`: `torch.autocast("neuron", ...)`, arguments kept (an explicit `dtype=torch.float16`
  is rule PT203's business);
- `portable`: `torch.autocast(DEVICE.type, ..., enabled=DEVICE.type != "cpu")`: off on a
  CPU-only machine, where the original cast nothing (`_cpu_gate`);
- `neuron-xla`: `torch.autocast("xla", dtype=torch.bfloat16, ...)`: XLA autocast on Neuron is
  bf16, so any `dtype=` is replaced; `enabled`/`cache_enabled` are kept.

A default `torch.cuda.amp.autocast()` means fp16; `torch.autocast(t)` means the device type's
default (fp16 on CUDA, bf16 on CPU and XLA), which is why the rule's docs discuss dtypes.
"""

from __future__ import annotations

import libcst as cst

from porttool.rewrite.replacements import FixContext
from porttool.rewrite.handlers import _cpu_gate

_POSITIONAL = ("enabled", "dtype", "cache_enabled")
_EQUAL = cst.AssignEqual(cst.SimpleWhitespace(""), cst.SimpleWhitespace(""))
_COMMA = cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))


def rewrite(node: cst.CSTNode, ctx: FixContext) -> cst.CSTNode | cst.RemovalSentinel | None:
    if not isinstance(node, cst.Call):
        return ctx.decline("not a call")
    args: list[cst.Arg] = []
    positional = 0
    for arg in node.args:
        if arg.star:
            return ctx.decline("starred arguments cannot be mapped to torch.autocast's parameters")
        if arg.keyword is None:
            if positional >= len(_POSITIONAL):
                return ctx.decline("too many positional arguments")
            arg = arg.with_changes(keyword=cst.Name(_POSITIONAL[positional]), equal=_EQUAL)
            positional += 1
        args.append(arg)
    device: cst.BaseExpression
    if ctx.target == "neuron":
        device = cst.SimpleString('"neuron"')
    elif ctx.target == "portable":
        device = ctx.parse("{device}.type", device=ctx.accelerator())
        # on a CPU-only machine the original cast nothing (fp32): keep that (see _cpu_gate)
        args = _cpu_gate.gated(args, _cpu_gate.cpu_gate(ctx.device_name)) or args
    else:
        device = cst.SimpleString('"xla"')
        bf16 = ctx.parse("torch.bfloat16")
        kept = [a for a in args if not (a.keyword is not None and a.keyword.value == "dtype")]
        args = [cst.Arg(bf16, keyword=cst.Name("dtype"), equal=_EQUAL), *kept]
    args = [cst.Arg(device), *args]
    args = [a.with_changes(comma=_COMMA if i < len(args) - 1 and not isinstance(a.comma, cst.Comma) else (a.comma if i < len(args) - 1 else cst.MaybeSentinel.DEFAULT)) for i, a in enumerate(args)]
    ctx.add_import("torch")  # the replacement spells `torch.`; a no-op when torch is imported
    call = ctx.parse("torch.autocast()")
    assert isinstance(call, cst.Call)
    return node.with_changes(func=call.func, args=args)
