"""Turn a CUDA TF32 switch into `torch.set_float32_matmul_precision(...)` (rule PT303, `portable`).

`torch.backends.cuda.matmul.allow_tf32 = X` and `torch.backends.cuda.matmul.fp32_precision = X`
only steer CUDA matmuls. `torch.set_float32_matmul_precision` is the device-neutral spelling: on
CUDA, "high" is exactly `allow_tf32 = True` and "highest" exactly `allow_tf32 = False`, and other
backends read the same setting for their own reduced-precision matmuls. So the mapping is:

- `True` → `"high"`, `False` → `"highest"` (a literal, so the result reads as hand-written);
- any other expression `X` → `"high" if X else "highest"` (same truth test the flag applied);
- `fp32_precision = "tf32"` → `"high"`, `"ieee"` → `"highest"`; any other value is declined.

Chained (`a = b = True`) and augmented assignments are declined: replacing the whole statement
would drop the other target, and `|=` on a flag is not a pattern worth guessing about.
"""

from __future__ import annotations

import libcst as cst

from porttool.rewrite.replacements import FixContext

_FROM_BOOL = {"True": "high", "False": "highest"}
_FROM_FP32_PRECISION = {"tf32": "high", "ieee": "highest"}


def rewrite(node: cst.CSTNode, ctx: FixContext) -> cst.CSTNode | cst.RemovalSentinel | None:
    if not isinstance(node, cst.Assign) or len(node.targets) != 1:
        return ctx.decline("only a single `flag = value` assignment can become one call")
    target, value = node.targets[0].target, node.value
    is_precision_string = (
        isinstance(target, cst.Attribute) and target.attr.value == "fp32_precision"
    )
    if is_precision_string:
        text = value.evaluated_value if isinstance(value, cst.SimpleString) else None
        precision = _FROM_FP32_PRECISION.get(text) if isinstance(text, str) else None
        if precision is None:
            return ctx.decline(
                'only the literal values "tf32" and "ieee" have a matmul-precision equivalent'
            )
        call = ctx.parse(f'torch.set_float32_matmul_precision("{precision}")')
    elif isinstance(value, cst.Name) and value.value in _FROM_BOOL:
        call = ctx.parse(f'torch.set_float32_matmul_precision("{_FROM_BOOL[value.value]}")')
    else:
        call = ctx.parse(
            'torch.set_float32_matmul_precision("high" if {value} else "highest")', value=value
        )
    return cst.Expr(value=call)
