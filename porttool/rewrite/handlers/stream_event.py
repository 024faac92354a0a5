"""Rewrite CUDA events and streams as the device-generic `torch.Event`/`torch.Stream` API
(rules PT111, PT112).

- `torch.cuda.Event(...)` → `torch.Event(...)`: `torch.Event`'s first positional parameter is
  `device`, so positional `enable_timing, blocking, interprocess` become keywords;
- `torch.cuda.Stream(device, priority)` → `torch.Stream(device, priority=...)` (priority is
  keyword-only there);
- `torch.cuda.stream(s)` → `s`: a `torch.Stream` is its own context manager
  (`with torch.cuda.stream(s):` → `with s:`); `stream(None)` (a no-op context) is declined;
- `torch.cuda.current_stream(d)` → `torch.accelerator.current_stream(d)`;
- `torch.cuda.set_stream(s)` → `torch.accelerator.set_stream(s)`.
"""

from __future__ import annotations

from collections.abc import Sequence

import libcst as cst

from porttool.rewrite.replacements import FixContext

_EVENT_PARAMS = ("enable_timing", "blocking", "interprocess")
_EQUAL = cst.AssignEqual(cst.SimpleWhitespace(""), cst.SimpleWhitespace(""))


def _keywords(args: Sequence[cst.Arg], names: tuple[str, ...], skip: int = 0) -> list[cst.Arg] | None:
    out: list[cst.Arg] = []
    positional = 0
    for arg in args:
        if arg.star:
            return None
        if arg.keyword is None:
            if positional >= skip:
                if positional - skip >= len(names):
                    return None
                arg = arg.with_changes(keyword=cst.Name(names[positional - skip]), equal=_EQUAL)
            positional += 1
        out.append(arg)
    return out


def rewrite(node: cst.CSTNode, ctx: FixContext) -> cst.CSTNode | cst.RemovalSentinel | None:
    if not isinstance(node, cst.Call):
        return ctx.decline("not a call")
    func = node.func
    name = func.attr.value if isinstance(func, cst.Attribute) else func.value if isinstance(func, cst.Name) else ""
    if name == "Event":
        args = _keywords(node.args, _EVENT_PARAMS)
        if ctx.target == "portable" and args is not None:
            # a CPU has no events (`record()` raises there): a stand-in keeps timing code running
            return cst.Call(func=ctx.use_definition("AcceleratorEvent"), args=args)
        new = "torch.Event()"
    elif name == "Stream":
        args = _keywords(node.args, ("priority",), skip=1)
        new = "torch.Stream()"
    elif name == "stream":
        if len(node.args) != 1 or node.args[0].star or (isinstance(node.args[0].value, cst.Name) and node.args[0].value.value == "None"):
            return ctx.decline("`torch.cuda.stream(...)` without one stream argument has no direct equivalent")
        return node.args[0].value
    elif name in ("current_stream", "set_stream"):
        args = list(node.args)
        new = f"torch.accelerator.{name}()"
        # both raise on a machine without an accelerator: `portable` runs the statement only with one
        ctx.needs_accelerator = ctx.target == "portable"
    else:
        return ctx.decline(f"no generic equivalent known for torch.cuda.{name}")
    if args is None:
        return ctx.decline("starred or surplus positional arguments")
    ctx.add_import("torch")  # the replacement spells `torch.`; a no-op when torch is imported
    call = ctx.parse(new)
    assert isinstance(call, cst.Call)
    return call.with_changes(args=args)
