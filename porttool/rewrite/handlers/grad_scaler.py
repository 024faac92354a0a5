"""Rewrite `torch.cuda.amp.GradScaler(...)` as `torch.amp.GradScaler(<device type>, ...)` (rule PT202).

`torch.amp.GradScaler(device, init_scale, growth_factor, backoff_factor, growth_interval,
enabled)` takes the same parameters as the CUDA class after a leading device, so the arguments
are kept as written behind the new first argument:

- `neuron`: `torch.amp.GradScaler("neuron", ...)`;
- `portable`: `torch.amp.GradScaler(DEVICE.type, ...)` (PyTorch has a CPU GradScaler too);
- `neuron-xla`: `torch.amp.GradScaler("xla", enabled=False)`: XLA autocast on Neuron is bf16,
  which needs no loss scaling. A disabled scaler is the removal that keeps the code running:
  `scale(loss)` returns `loss`, `step(opt)` calls `opt.step()`, `update()` does nothing.
"""

from __future__ import annotations

import libcst as cst

from porttool.rewrite.replacements import FixContext

_COMMA = cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))


def rewrite(node: cst.CSTNode, ctx: FixContext) -> cst.CSTNode | cst.RemovalSentinel | None:
    if not isinstance(node, cst.Call):
        return ctx.decline("not a call")
    ctx.add_import("torch")  # the replacement spells `torch.`; a no-op when torch is imported
    scaler = ctx.parse("torch.amp.GradScaler()")
    assert isinstance(scaler, cst.Call)
    if ctx.target == "neuron-xla":
        return node.with_changes(func=scaler.func, args=[cst.Arg(cst.SimpleString('"xla"'), comma=_COMMA), cst.Arg(cst.Name("False"), keyword=cst.Name("enabled"), equal=cst.AssignEqual(cst.SimpleWhitespace(""), cst.SimpleWhitespace("")))])
    device = cst.SimpleString('"neuron"') if ctx.target == "neuron" else ctx.parse("{device}.type", device=ctx.accelerator())
    first = cst.Arg(device, comma=_COMMA if node.args else cst.MaybeSentinel.DEFAULT)
    return node.with_changes(func=scaler.func, args=[first, *node.args])
