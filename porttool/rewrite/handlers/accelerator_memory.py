"""Rewrite a `torch.cuda` memory call as its `torch.accelerator` twin (rule PT106).

`torch.cuda.X(...)` → `torch.accelerator.X(...)` for `empty_cache`, `memory_allocated`,
`max_memory_allocated`, `memory_reserved`, `max_memory_reserved`, `memory_stats`,
`reset_peak_memory_stats` and `reset_accumulated_memory_stats`, arguments kept.

`portable` must also run without any accelerator, where the `torch.accelerator` memory functions
raise ("Cannot access accelerator device when none is available") while the `torch.cuda` ones
returned 0 / did nothing on a CUDA-less machine. So the portable form is guarded:

- a value (`memory_allocated()`, ...): `(torch.accelerator.X() if torch.accelerator.is_available() else 0)`
  (`{}` for `memory_stats`), parenthesised because it usually sits inside arithmetic or an f-string;
- an action (`empty_cache()`, `reset_*()`): `torch.accelerator.X() if torch.accelerator.is_available() else None`,
  which is used as a statement.

On `neuron` there is always an accelerator, so no guard is written.
"""

from __future__ import annotations

import libcst as cst

from porttool.rewrite.replacements import FixContext

VALUES = {
    "memory_allocated": "0",
    "max_memory_allocated": "0",
    "memory_reserved": "0",
    "max_memory_reserved": "0",
    "memory_stats": "{}",
}
ACTIONS = {"empty_cache", "reset_peak_memory_stats", "reset_accumulated_memory_stats"}


def rewrite(node: cst.CSTNode, ctx: FixContext) -> cst.CSTNode | cst.RemovalSentinel | None:
    if not isinstance(node, cst.Call):
        return ctx.decline("not a call")
    func = node.func
    name = func.attr.value if isinstance(func, cst.Attribute) else func.value if isinstance(func, cst.Name) else ""
    if name not in VALUES and name not in ACTIONS:
        return ctx.decline(f"no torch.accelerator equivalent known for {name!r}")
    ctx.add_import("torch")  # the replacement spells `torch.`; a no-op when torch is imported
    call = ctx.parse(f"torch.accelerator.{name}()")
    assert isinstance(call, cst.Call)
    call = call.with_changes(args=node.args)
    if ctx.target != "portable":
        return call
    if name in ACTIONS:
        return ctx.parse("{call} if torch.accelerator.is_available() else None", call=call)
    guarded = ctx.parse(f"{{call}} if torch.accelerator.is_available() else {VALUES[name]}", call=call)
    return guarded.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])
