"""Shared by the autocast fixes (not a handler itself): keep a `portable` port's CPU path in the
precision of the original.

`torch.cuda.amp.autocast(...)` and `torch.autocast("cuda", ...)` cast CUDA ops only: on a
machine without CUDA the original ran in fp32. Ported to the current accelerator's autocast
(`DEVICE.type`), the same call on a CPU-only machine becomes CPU autocast, in bf16 by default,
which is many times slower on a CPU without bf16 units and changes the numbers. So the port
and-s the call's `enabled=` with `DEVICE.type != "cpu"`: on an accelerator nothing changes, on
the CPU the autocast is off, as the original's was.
"""

from __future__ import annotations

from collections.abc import Sequence

import libcst as cst

_EQUAL = cst.AssignEqual(cst.SimpleWhitespace(""), cst.SimpleWhitespace(""))
_COMMA = cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
_BARE = (cst.Name, cst.Attribute, cst.Call, cst.Subscript, cst.Comparison, cst.UnaryOperation)
ENABLED_POSITION = 2  # torch.autocast(device_type, dtype, enabled, cache_enabled)


def cpu_gate(device_name: str) -> cst.BaseExpression:
    """`DEVICE.type != "cpu"`."""
    return cst.parse_expression(f'{device_name}.type != "cpu"')


def _and(value: cst.BaseExpression, gate: cst.BaseExpression) -> cst.BaseExpression:
    if isinstance(value, cst.Name) and value.value == "True":
        return gate
    bare = isinstance(value, _BARE) or (isinstance(value, cst.BooleanOperation) and isinstance(value.operator, cst.And)) or value.lpar
    left = value if bare else value.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])
    return cst.BooleanOperation(left=left, operator=cst.And(), right=gate)


def gated(args: Sequence[cst.Arg], gate: cst.BaseExpression) -> list[cst.Arg] | None:
    """`torch.autocast(...)`'s arguments with `enabled=` and-ed with `gate` (added when absent);
    None when the call is off already (`enabled=False`) or `*args`/`**kwargs` hide it."""
    if any(a.star for a in args):
        return None
    out = list(args)
    positional = [i for i, a in enumerate(out) if a.keyword is None]
    found = next((i for i, a in enumerate(out) if a.keyword is not None and a.keyword.value == "enabled"), None)
    if found is None and len(positional) > ENABLED_POSITION:
        found = positional[ENABLED_POSITION]
    if found is not None:
        value = out[found].value
        if isinstance(value, cst.Name) and value.value == "False":
            return None
        out[found] = out[found].with_changes(value=_and(value, gate))
        return out
    new = cst.Arg(gate, keyword=cst.Name("enabled"), equal=_EQUAL)
    if out and isinstance(out[-1].comma, cst.Comma):
        # a trailing comma (often a call laid out one argument a line): the new keyword takes
        # it, and the argument before gets the separator its predecessors use
        between = out[-2].comma if len(out) > 1 and isinstance(out[-2].comma, cst.Comma) else _COMMA
        new = new.with_changes(comma=out[-1].comma)
        out[-1] = out[-1].with_changes(comma=between)
    elif out:
        out[-1] = out[-1].with_changes(comma=_COMMA)
    out.append(new)
    return out


def is_autocast(call: cst.Call) -> bool:
    name = cst.helpers.get_full_name_for_node(call.func) or ""
    return name.split(".")[-1] == "autocast"
