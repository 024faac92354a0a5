"""Rewrite a comparison with the device type `"cuda"` (rule PT010): `x == "cuda"`, `"cuda" in device`.

Such a test asks "are we on the accelerator?". The string is replaced in place for `neuron`
(`"neuron"`) and `neuron-xla` (`"xla"`). For `portable` the question is turned into "not on the
CPU", so it stays false on a machine without an accelerator, as the CUDA test was there:

- `x == "cuda"` → `x != "cpu"`, `x != "cuda"` → `x == "cpu"`;
- `"cuda" in device` → `"cpu" not in device`, `"cuda" not in device` → `"cpu" in device`.

Comparing with `DEVICE.type` instead (as PT003 does for a lone string) would make the test true
for CPU tensors on such a machine, which sends CPU code down accelerator-only paths
(`pin_memory()` raises there).
"""

from __future__ import annotations

import libcst as cst

from porttool.rewrite.replacements import FixContext

_NEGATED: dict[type, cst.BaseCompOp] = {
    cst.Equal: cst.NotEqual(),
    cst.NotEqual: cst.Equal(),
    cst.In: cst.NotIn(),
    cst.NotIn: cst.In(),
}


def rewrite(node: cst.CSTNode, ctx: FixContext) -> cst.CSTNode | None:
    if not isinstance(node, cst.Comparison) or len(node.comparisons) != 1:
        return ctx.decline("not a single comparison")
    target = node.comparisons[0]
    sides = [("left", node.left), ("right", target.comparator)]
    for where, side in sides:
        if isinstance(side, cst.SimpleString) and side.evaluated_value == "cuda":
            break
    else:
        return ctx.decline("no plain \"cuda\" operand")
    quote = side.quote
    if ctx.target == "neuron" or ctx.target == "neuron-xla":
        text = "neuron" if ctx.target == "neuron" else "xla"
        replacement = side.with_changes(value=f"{side.prefix}{quote}{text}{quote}")
        op = target.operator
    else:
        replacement = side.with_changes(value=f"{side.prefix}{quote}cpu{quote}")
        negated = _NEGATED.get(type(target.operator))
        if negated is None:
            return ctx.decline("not an ==, !=, in or not in comparison")
        op = _keep_whitespace(negated, target.operator)
    if where == "left":
        return node.with_changes(left=replacement, comparisons=[target.with_changes(operator=op)])
    return node.with_changes(comparisons=[target.with_changes(operator=op, comparator=replacement)])


def _keep_whitespace(new: cst.BaseCompOp, old: cst.BaseCompOp) -> cst.BaseCompOp:
    """The new operator with the old one's surrounding whitespace."""
    before = getattr(old, "whitespace_before")
    after = getattr(old, "whitespace_after")
    return new.with_changes(whitespace_before=before, whitespace_after=after)
