"""Rewrite a `"cuda"` string whose use is unknown (rule PT003): the result stays a `str`.

The string may be compared (`x.device.type == "cuda"`, `args.device == "cuda"`), formatted,
or passed on as a device later, so every target gets a string back:

- `neuron`: the spelling with the type swapped (`"cuda:0"` → `"neuron:0"`, `f"cuda:{r}"` →
  `f"neuron:{r}"`);
- `portable`: `DEVICE.type` / `f"{DEVICE.type}:<index>"` (a `torch.device` would compare unequal
  to every string, so `DEVICE` itself is not used here);
- `neuron-xla`: `"xla"` (index dropped: one NeuronCore per process), and `import torch_xla`,
  without which the `xla` device type has no backend.
"""

from __future__ import annotations

import libcst as cst

from porttool.rewrite.replacements import FixContext
from porttool.rewrite.handlers import _cuda_strings


def rewrite(node: cst.CSTNode, ctx: FixContext) -> cst.CSTNode | cst.RemovalSentinel | None:
    parsed = _cuda_strings.parse(node)
    if parsed is None:
        return ctx.decline("not a recognisable CUDA device string")
    if ctx.target == "neuron":
        return parsed.renamed("neuron")
    if ctx.target == "portable":
        return _cuda_strings.portable_string(ctx, parsed)
    ctx.add_import("torch_xla")
    return parsed.literal("xla")
