"""Rewrite `"cuda" if torch.cuda.is_available() else "cpu"` (rule PT004).

Handles either branch order (`"cpu" if not torch.cuda.is_available() else "cuda"`), a
`torch.device(...)` around each string, and an indexed CUDA string (`f"cuda:{rank}"`).

- `neuron`: the same idiom with `"neuron"` and `torch.accelerator.is_available()`, so the CPU
  fallback (and its place in the code) stays exactly where the author put it;
- `portable`: the module's `DEVICE` constant already *is* "the accelerator, else the CPU". Where
  the idiom built a `torch.device` it becomes `DEVICE`; where it built a string it becomes
  `DEVICE.type` (or `f"{DEVICE.type}:<index>"`), so later string comparisons still work;
- `neuron-xla`: `torch_xla.device()` (a `torch.device`) or `"xla"` (a string, with
  `import torch_xla`): a torch-neuronx process always has its XLA device.
"""

from __future__ import annotations

import libcst as cst

from porttool.rewrite.replacements import FixContext
from porttool.rewrite.handlers import _cuda_strings


def _unwrap(branch: cst.BaseExpression) -> tuple[cst.BaseExpression, bool]:
    """The string inside an optional `torch.device(...)`, and whether it was wrapped."""
    if isinstance(branch, cst.Call) and len(branch.args) == 1 and isinstance(branch.func, cst.Attribute) and branch.func.attr.value == "device":
        return branch.args[0].value, True
    return branch, False


def rewrite(node: cst.CSTNode, ctx: FixContext) -> cst.CSTNode | cst.RemovalSentinel | None:
    if not isinstance(node, cst.IfExp):
        return ctx.decline("not a conditional expression")
    negated = isinstance(node.test, cst.UnaryOperation) and isinstance(node.test.operator, cst.Not)
    cuda_branch = node.orelse if negated else node.body
    inner, wrapped = _unwrap(cuda_branch)
    parsed = _cuda_strings.parse(inner)
    if parsed is None:
        return ctx.decline("the CUDA branch is not a recognisable device string")
    if ctx.target == "neuron":
        new_branch: cst.BaseExpression
        if wrapped:
            assert isinstance(cuda_branch, cst.Call)
            new_branch = cuda_branch.with_changes(args=[cuda_branch.args[0].with_changes(value=parsed.renamed("neuron"))])
        else:
            new_branch = parsed.renamed("neuron")
        ctx.add_import("torch")  # the replacement spells `torch.`; a no-op when torch is imported
        check = ctx.parse("torch.accelerator.is_available()")
        if negated:
            assert isinstance(node.test, cst.UnaryOperation)
            return node.with_changes(test=node.test.with_changes(expression=check), orelse=new_branch)
        return node.with_changes(test=check, body=new_branch)
    if ctx.target == "portable":
        if wrapped and not parsed.has_index:
            return ctx.accelerator()
        text = _cuda_strings.portable_string(ctx, parsed)
        return ctx.parse("torch.device({text})", text=text) if wrapped else text
    if wrapped:
        return ctx.accelerator()
    ctx.add_import("torch_xla")
    return parsed.literal("xla")
