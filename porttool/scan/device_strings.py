"""CUDA device strings in their common spellings: `"cuda"`, `"cuda:0"`, `f"cuda:{rank}"`,
`"cuda:%d" % i`, `"cuda:" + str(i)`, `"cuda:{}".format(i)`."""

from __future__ import annotations

import ast
import re

from porttool.scan.import_table import ImportTable


CUDA_LITERAL = re.compile(r"^cuda(:\d+)?$")
CUDA_PREFIX_FORMATS = ("cuda:%d", "cuda:%s", "cuda:%i", "cuda:{}", "cuda:{0}")


def device_string_value(node: ast.AST) -> str | None:
    """The `cuda[:N]` text if `node` is a CUDA device string in one of its common spellings."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value if CUDA_LITERAL.match(node.value) else None
    if isinstance(node, ast.JoinedStr) and node.values:
        head = node.values[0]
        if isinstance(head, ast.Constant) and isinstance(head.value, str) and head.value == "cuda:":
            if all(isinstance(v, ast.FormattedValue) for v in node.values[1:]) and len(node.values) > 1:
                return "cuda:{}"
        return None
    if isinstance(node, ast.BinOp) and isinstance(node.left, ast.Constant) and isinstance(node.left.value, str):
        if isinstance(node.op, ast.Mod) and node.left.value in CUDA_PREFIX_FORMATS:
            return "cuda:{}"
        if isinstance(node.op, ast.Add) and node.left.value == "cuda:":
            return "cuda:{}"
        return None
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "format"
        and isinstance(node.func.value, ast.Constant)
        and node.func.value.value in CUDA_PREFIX_FORMATS
    ):
        return "cuda:{}"
    return None


def idiom_device_text(node: ast.AST, imports: ImportTable) -> str | None:
    if isinstance(node, ast.Call) and imports.qualify(node.func) == "torch.device" and len(node.args) == 1:
        node = node.args[0]
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value if node.value == "cpu" or CUDA_LITERAL.match(node.value) else None
    if device_string_value(node) is not None:
        return "cuda:{}"
    return None
