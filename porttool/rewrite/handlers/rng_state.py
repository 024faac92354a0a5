"""Rewrite `torch.cuda.get_rng_state()` / `set_rng_state(s)` for torch-neuronx/XLA (rule PT108).

PyTorch/XLA keeps one RNG per device as an integer seed: `xm.get_rng_state()` returns it and
`xm.set_rng_state(seed)` sets it. The device argument is dropped (one NeuronCore per process).
`*_all` variants have no XLA counterpart and are declined. The state changes type (a
`ByteTensor` before, an `int` now), which is why the rule marks this rewrite unsafe.
"""

from __future__ import annotations

import libcst as cst

from porttool.rewrite.replacements import FixContext


def rewrite(node: cst.CSTNode, ctx: FixContext) -> cst.CSTNode | cst.RemovalSentinel | None:
    if not isinstance(node, cst.Call):
        return ctx.decline("not a call")
    func = node.func
    name = func.attr.value if isinstance(func, cst.Attribute) else func.value if isinstance(func, cst.Name) else ""
    if ctx.target != "neuron-xla" or name not in ("get_rng_state", "set_rng_state"):
        return ctx.decline("only get_rng_state/set_rng_state have a torch_xla counterpart")
    ctx.add_import("torch_xla.core.xla_model", None, "xm")
    if name == "get_rng_state":
        return cst.parse_expression("xm.get_rng_state()")
    positional = [a for a in node.args if a.keyword is None and not a.star]
    state = positional[0].value if positional else next((a.value for a in node.args if a.keyword and a.keyword.value == "new_state"), None)
    if state is None:
        return ctx.decline("no state argument to pass on")
    return cst.Call(func=cst.parse_expression("xm.set_rng_state"), args=[cst.Arg(state)])
