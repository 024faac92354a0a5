"""The wording the HTML and Markdown reports share, so both say the same thing the same way."""

from __future__ import annotations

from porttool.model import Effort, Finding
from porttool.report.effort import HOURS, format_hours
from porttool.report.kernel_guidance import advice, standalone_advice
from porttool.report.kernel_triage import Hop, KernelItem
from porttool.scan.kernel_index import Place

TARGET_DESCRIPTIONS = {
    "neuron": "AWS Trainium, native TorchNeuron (device `neuron`)",
    "portable": "any accelerator or none (`torch.accelerator`)",
    "neuron-xla": "legacy torch-neuronx on PyTorch/XLA",
}
REACH_LABELS = {
    "python": "reached from Python",
    "build": "built, no Python call found",
    "included": "included by other CUDA files only",
    "unlinked": "not linked to any Python or build",
    "standalone": "a program of its own (has `main`)",
}
FORM_NAMES = {"cuda": "CUDA file", "inline": "inline CUDA (`load_inline`)", "triton": "Triton kernel", "build": "extension build"}
KIND_VERBS = {"import": "imports", "call": "calls", "launch": "launches", "use": "uses", "op": "calls op"}

ESTIMATE_RULE = "hours = " + " + ".join(f"{format_hours(HOURS[level])} × {level.value}" for level in Effort)
ESTIMATE_COUNTS = (
    "Each finding counts by what porttool can do for the target: a safe fix costs nothing "
    "(`porttool rewrite` applies it), an unsafe fix costs a low-effort review of the behaviour "
    "change it states, a manual port costs its rule's effort level (`effort` in the rule file, "
    "`porttool explain CODE`), a hint costs nothing. Levels follow SYCLomatic's: low = minutes, "
    "medium = hours, high = a rewrite (one person-day). Kernel work is counted per kernel: a CUDA "
    "file or inline source once per `__global__` function in it (a header without kernels that "
    "other CUDA files include: not at all), a Triton kernel or an extension build once."
)


def where(place: Place) -> str:
    cell = f"cell {place.cell + 1}:" if place.cell is not None else ""
    return f"{place.path}:{cell}{place.line}"


def finding_where(finding: Finding) -> str:
    cell = f"cell {finding.cell + 1}:" if finding.cell is not None else ""
    return f"{finding.path}:{cell}{finding.span.line}:{finding.span.column + 1}"


def hop_text(hop: Hop) -> str:
    """`fused_ops/gelu.py:111 in _BiasGELUFunction.forward calls bias_gelu_forward`."""
    scope = f" in `{hop.place.scope}`" if hop.place.scope else " at module level"
    return f"{where(hop.place)}{scope} {KIND_VERBS.get(hop.kind, hop.kind)} `{hop.via}`"


def item_size(item: KernelItem) -> str:
    if item.form == "build":
        return f"{item.lines} lines compiled" if item.lines else "sources not found"
    kernels = len(item.kernels)
    return f"{item.lines} lines" + (f", {kernels} kernel{'s' * (kernels != 1)}" if item.form != "triton" and kernels else "")


def item_advice(item: KernelItem, target: str) -> str:
    if item.reach == "standalone":
        return standalone_advice(target)
    if item.form == "build":
        return {
            "neuron": "Build the extension only where CUDA is (`if torch.cuda.is_available()` / an optional extra), and register the NKI or PyTorch replacement of its kernels as a custom op for Neuron.",
            "portable": "Make the build optional (CUDA machines only) and give every function it exports a pure-PyTorch fallback that runs anywhere, a CPU included.",
            "neuron-xla": "Make the build optional (CUDA machines only) and route its functions to PyTorch operators or NKI kernels under XLA.",
        }.get(target, "Make the build optional and give its functions a fallback.")
    return advice(item.kind, target, "triton" if item.form == "triton" else "cuda")


def item_title(item: KernelItem) -> str:
    if item.form == "cuda":
        return item.path
    return f"{item.name} ({where(Place(item.path, item.line, cell=item.cell))})"


def item_reach(item: KernelItem) -> str:
    """A one-line summary of how Python reaches the item."""
    direct = [h for h in item.hops if h.level == 0]
    if direct:
        files = sorted({h.place.path for h in item.hops})
        outer = max(h.level for h in item.hops)
        chain = f"; callers up to {outer} level{'s' * (outer != 1)} out" if outer else ""
        return f"{len(direct)} direct site{'s' * (len(direct) != 1)}{chain}, in {len(files)} file{'s' * (len(files) != 1)}"
    if item.builds:
        return "built by " + ", ".join(f"`{b.builder}` at {where(b.place)}" for b in item.builds)
    if item.included_by:
        return "included by " + ", ".join(item.included_by[:3]) + (f" and {len(item.included_by) - 3} more" if len(item.included_by) > 3 else "")
    return REACH_LABELS[item.reach]
