"""Add the target's device name to a list of accepted devices (rule PT012).

`assert device_type in ["cuda", "mps", "cpu"]`, `choices=["cuda", "cpu"]`: the ported program
chooses the target's device, which such a check rejects. The name goes right after `"cuda"`:
`"neuron"` (neuron), `"xla"` (neuron-xla), `DEVICE.type` (portable: whatever accelerator the
machine has). Every value accepted before is still accepted.
"""

from __future__ import annotations

import libcst as cst

from porttool.rewrite.replacements import FixContext


def rewrite(node: cst.CSTNode, ctx: FixContext) -> cst.CSTNode | None:
    if not isinstance(node, (cst.List, cst.Tuple, cst.Set)):
        return ctx.decline("not a list of device names")
    elements = list(node.elements)
    for i, element in enumerate(elements):
        if isinstance(element.value, cst.SimpleString) and element.value.evaluated_value == "cuda":
            break
    else:
        return ctx.decline("no \"cuda\" in the list")
    quote = element.value.quote
    if ctx.target == "portable":
        added: cst.BaseExpression = ctx.parse("{accelerator}.type")
    else:
        added = cst.SimpleString(f"{quote}{'neuron' if ctx.target == 'neuron' else 'xla'}{quote}")
    new = element.with_changes(value=added)
    if isinstance(element.comma, cst.MaybeSentinel):
        element = element.with_changes(comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")))
    elements[i : i + 1] = [element, new]
    return node.with_changes(elements=elements)
