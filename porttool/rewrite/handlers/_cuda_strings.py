"""Shared by the device-string handlers: read a CUDA device string and build its replacements.

Not a handler itself (no rule names it). A CUDA device string comes in five spellings, all
recognised by the scanner's `device-string` matcher:

- `"cuda"` / `"cuda:1"` (a plain literal, any quote style or prefix);
- `f"cuda:{rank}"`;
- `"cuda:%d" % rank` (also `% (rank,)`);
- `"cuda:{}".format(rank)`;
- `"cuda:" + str(rank)` (the `str(...)` is unwrapped when the index is reused).

`renamed` swaps the device type in place and keeps the spelling, which is what the `neuron`
target wants (`f"cuda:{rank}"` → `f"neuron:{rank}"`). `portable_string` builds the string form
of the current accelerator (`DEVICE.type`, or `f"{DEVICE.type}:{rank}"` with an index), so code
that compares or formats device strings keeps working with a `str`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, cast

import libcst as cst

from porttool.rewrite.replacements import FixContext

_CUDA = re.compile(r"cuda(?::(\d+))?")
_FORMATS = ("cuda:%d", "cuda:%s", "cuda:%i", "cuda:{}", "cuda:{0}")


@dataclass(frozen=True)
class CudaString:
    """A parsed CUDA device string: its node, the index (literal text or expression) and quote."""

    node: cst.BaseExpression
    index_text: str | None  # a literal index ("1" in "cuda:1")
    index_expr: cst.BaseExpression | None  # an index computed at run time (rank in f"cuda:{rank}")
    quote: str  # the quote character of the original string

    @property
    def has_index(self) -> bool:
        return self.index_text is not None or self.index_expr is not None

    def renamed(self, device_type: str) -> cst.BaseExpression:
        """The same spelling with `cuda` replaced by `device_type`."""
        node = self.node
        if isinstance(node, cst.SimpleString):
            return node.with_changes(value=node.value.replace("cuda", device_type, 1))
        if isinstance(node, cst.FormattedString):
            head = node.parts[0]
            assert isinstance(head, cst.FormattedStringText)
            return node.with_changes(parts=[head.with_changes(value=head.value.replace("cuda", device_type, 1)), *node.parts[1:]])
        if isinstance(node, cst.BinaryOperation):
            left = node.left
            assert isinstance(left, cst.SimpleString)
            return node.with_changes(left=left.with_changes(value=left.value.replace("cuda", device_type, 1)))
        assert isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute)
        fmt = node.func.value
        assert isinstance(fmt, cst.SimpleString)
        return node.with_changes(func=node.func.with_changes(value=fmt.with_changes(value=fmt.value.replace("cuda", device_type, 1))))

    def literal(self, text: str) -> cst.SimpleString:
        """A plain string literal in the original quote style."""
        return cst.SimpleString(f"{self.quote}{text}{self.quote}")


def parse(node: cst.CSTNode) -> CudaString | None:
    """Read a CUDA device string in any of the matcher's spellings; None for anything else."""
    if isinstance(node, cst.SimpleString):
        value = node.evaluated_value
        m = _CUDA.fullmatch(value) if isinstance(value, str) else None
        return CudaString(node, m.group(1), None, node.quote[0]) if m else None
    if isinstance(node, cst.FormattedString):
        parts = node.parts
        if len(parts) == 2 and isinstance(parts[0], cst.FormattedStringText) and parts[0].value == "cuda:" and isinstance(parts[1], cst.FormattedStringExpression):
            return CudaString(node, None, parts[1].expression, node.end[-1])
        return None
    if isinstance(node, cst.BinaryOperation) and isinstance(node.left, cst.SimpleString):
        left = node.left.evaluated_value
        if isinstance(node.operator, cst.Modulo) and left in _FORMATS:
            right = node.right
            if isinstance(right, cst.Tuple) and len(right.elements) == 1:
                right = right.elements[0].value
            return CudaString(node, None, right, node.left.quote[0])
        if isinstance(node.operator, cst.Add) and left == "cuda:":
            right = node.right
            if isinstance(right, cst.Call) and isinstance(right.func, cst.Name) and right.func.value == "str" and len(right.args) == 1:
                right = right.args[0].value
            return CudaString(node, None, right, node.left.quote[0])
        return None
    if (
        isinstance(node, cst.Call)
        and isinstance(node.func, cst.Attribute)
        and node.func.attr.value == "format"
        and isinstance(node.func.value, cst.SimpleString)
        and node.func.value.evaluated_value in _FORMATS
        and len(node.args) == 1
        and node.args[0].keyword is None
        and not node.args[0].star
    ):
        return CudaString(node, None, node.args[0].value, node.func.value.quote[0])
    return None


def device_type_of(ctx: FixContext) -> cst.BaseExpression:
    """`DEVICE.type`: the current accelerator's type as a string (portable)."""
    return ctx.parse("{device}.type", device=ctx.accelerator())


def indexed_fstring(ctx: FixContext, index_text: str | None, index_expr: cst.BaseExpression | None, quote: str = '"') -> cst.FormattedString:
    """`f"{DEVICE.type}:<index>"`, keeping the index (portable)."""
    tail: list[cst.BaseFormattedStringContent]
    if index_expr is not None:
        inner = cst.Module([]).code_for_node(index_expr)
        if quote in inner:
            quote = "'" if quote == '"' else '"'
        tail = [cst.FormattedStringText(":"), cst.FormattedStringExpression(index_expr)]
    else:
        tail = [cst.FormattedStringText(f":{index_text}")]
    end = cast(Literal['"', "'"], quote)
    return cst.FormattedString(parts=[cst.FormattedStringExpression(device_type_of(ctx)), *tail], start=f"f{quote}", end=end)


def portable_string(ctx: FixContext, parsed: CudaString) -> cst.BaseExpression:
    """The string form of the current accelerator, index kept: `DEVICE.type` / `f"{DEVICE.type}:1"`."""
    if not parsed.has_index:
        return device_type_of(ctx)
    return indexed_fstring(ctx, parsed.index_text, parsed.index_expr, parsed.quote)
