"""Rewrite a `"cuda"` device string in a device position (rules PT002 and PT005).

The string is an argument of `torch.device(...)`, `device=`, `.to(...)` or `map_location=`, so a
`torch.device` is as good as a `str` there:

- `neuron`: the same spelling with the type swapped (`"cuda:1"` → `"neuron:1"`,
  `f"cuda:{rank}"` → `f"neuron:{rank}"`), so an explicit index keeps its meaning;
- `portable`: `DEVICE` (the module's current-accelerator constant) without an index; with one,
  `f"{DEVICE.type}:<index>"` so `"cuda:1"` still names the second device (and `"cpu:1"` is
  still a valid device on a machine without an accelerator);
- `neuron-xla`: `torch_xla.device()`. The index is dropped on purpose: torch-neuronx binds one
  NeuronCore per process (from LOCAL_RANK), so `"cuda:{local_rank}"` maps to the process's core.
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
    if ctx.target == "portable" and parsed.has_index:
        return _cuda_strings.portable_string(ctx, parsed)
    return ctx.accelerator()
