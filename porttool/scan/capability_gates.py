"""Capability gates: a CUDA test whose answer switches on a CUDA-only feature is not a device choice.

`use_fused = device_type == "cuda"` (then `AdamW(..., fused=use_fused)`), `pin_memory=torch.cuda.is_available()`,
`if device_type != "cuda": warn("FP8 needs CUDA"); return fallback` before `torch._scaled_mm(...)`, a
`"cuda"` test on the device constants of a traced TorchScript graph: rewriting such a test to ask
for the new device switches the CUDA-only feature on there (or, for the graph, stops finding the
CUDA constants it is meant to patch). Those tests are gates: the scan reports them as such and the
rewrite keeps them testing for CUDA (false on the target), while real device choices
(`if device.type == "cuda": x = x.to(device)`) are ported as before.

A gate is found by what its value reaches, within one module:
- the value of a gating keyword (`fused=`, `pin_memory=`), directly or through names assigned
  from it (`use_fused = ok and device_type == "cuda"`, then `fused=use_fused`);
- the test of an `if` (or conditional expression) whose branches use a CUDA-only feature: a
  gating keyword set to a literal (`dict(fused=True) if use_fused else {}`), a CUDA-only call
  (`torch._scaled_mm`, `nn.DataParallel`, anything from flash-attn, Triton, apex, xformers, bitsandbytes,
  Transformer Engine, CuPy), a message saying it needs CUDA (`warn("FP8 requires CUDA")`); for
  `if ...: return` also the rest of the block (`.pin_memory()`
  and `pin_memory=True` in a branch are ported or reported by their own rules, and the guard
  follows them: `guarded_branches`);
- any test inside a loop over a TorchScript graph's nodes (`graph.findAllNodes(...)`).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable

from porttool.scan.import_table import ImportTable
from porttool.scan.module_values import target_key  # (a name a gate's value travels through: `use_fused`, `self.use_fused`)

GATE_KEYWORDS = {
    "fused": "fused optimizer kernels (`fused=`)",
    "pin_memory": "pinned host memory (`pin_memory=`)",
}
GATE_CALLS = {
    "torch._scaled_mm": "FP8 matmul (`torch._scaled_mm`)",
    "torch._scaled_grouped_mm": "FP8 grouped matmul (`torch._scaled_grouped_mm`)",
    # single-process replication: scatter/gather are CUDA-only bindings (`torch._C._scatter`); on
    # a CPU it is a pass-through, on any other device it fails at the first forward
    "torch.nn.DataParallel": "single-process multi-GPU replication (`nn.DataParallel`)",
    "torch.nn.parallel.DataParallel": "single-process multi-GPU replication (`nn.DataParallel`)",
}
GATE_MODULES = {
    "flash_attn": "flash-attn",
    "triton": "Triton",
    "apex": "apex",
    "xformers": "xformers",
    "bitsandbytes": "bitsandbytes",
    "transformer_engine": "Transformer Engine",
    "cupy": "CuPy",
}
# In a branch, `fused=True` marks a gate; `pin_memory=True` and `.pin_memory()` do not: PT401 and
# PT402 port or report them, and the guard follows them (`guarded_branches`), so a gate found
# through them would vanish once they are ported (the rewrite would not reach a fixed point).
BRANCH_KEYWORDS = {"fused": GATE_KEYWORDS["fused"]}
# a branch that says so: `warn("FP8 training requires CUDA, ignoring --fp8")`, "CUDA-only"
SAYS_CUDA_ONLY = re.compile(r"\b(?:requires?|needs?|only (?:on|with|for|supported on)|supported only on)\s+(?:an?\s+)?(?:NVIDIA\s+)?(?:CUDA|NVIDIA)\b|\bCUDA[- ]only\b", re.I)
MESSAGE_FEATURE = "a feature the code says requires CUDA"
GRAPH_FEATURE = "the device constants of a traced TorchScript graph"
TRIGGERS = ("fused", "pin_memory", "_scaled_mm", "DataParallel", "findAllNodes", "CUDA", *GATE_MODULES)


def capability_gates(tree: ast.Module, imports: ImportTable, source: str) -> dict[int, str]:
    """Ids of the expression nodes that decide whether a CUDA-only feature is used → the feature."""
    if not any(word in source for word in TRIGGERS):
        return {}
    finder = _Finder(imports)
    finder.visit(tree)
    return finder.resolve()


def _stops(node: ast.AST) -> bool:
    if isinstance(node, ast.Raise):
        return True
    if isinstance(node, ast.Call):
        func = node.func
        name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
        return name in ("exit", "quit", "_exit", "SystemExit")
    return False


def _truth_value(node: ast.AST) -> bool:
    if isinstance(node, (ast.Compare, ast.BoolOp)) or isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        return True
    if isinstance(node, ast.Constant):
        return isinstance(node.value, bool)
    if isinstance(node, ast.Call):
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
        return name.startswith(("is_", "has_")) or name == "bool"
    return False


class _Finder(ast.NodeVisitor):
    def __init__(self, imports: ImportTable) -> None:
        self.imports = imports
        self.gated: dict[int, str] = {}
        self.names: dict[str, str] = {}  # names whose value gates a feature → the feature
        self.assigned: dict[str, list[ast.AST]] = {}  # name → the values assigned to it
        self.tests: list[tuple[ast.AST, list[ast.AST]]] = []  # (an if's test, what runs under it)

    # what a test may gate -----------------------------------------------------------------------
    def feature_used(self, nodes: Iterable[ast.AST]) -> str | None:
        nodes = list(nodes)
        # a message in a raise or exit is a device requirement ("this trainer requires CUDA"), not a gate
        exiting = {id(n) for top in nodes for stop in ast.walk(top) if _stops(stop) for n in ast.walk(stop)}
        for top in nodes:
            for node in ast.walk(top):
                if isinstance(node, ast.Call):
                    feature = self.call_feature(node)
                    if feature is not None:
                        return feature
                    for kw in node.keywords:
                        if kw.arg in BRANCH_KEYWORDS and isinstance(kw.value, ast.Constant) and kw.value.value is True:
                            return BRANCH_KEYWORDS[kw.arg]
                elif isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and node.value.value is True:
                    for target in node.targets:  # extra_args["fused"] = True
                        if isinstance(target, ast.Subscript) and isinstance(target.slice, ast.Constant) and target.slice.value in BRANCH_KEYWORDS:
                            return BRANCH_KEYWORDS[target.slice.value]  # type: ignore[index]
                elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in exiting and SAYS_CUDA_ONLY.search(node.value):
                    return MESSAGE_FEATURE
                elif isinstance(node, ast.Dict):  # {"fused": True}
                    for k, v in zip(node.keys, node.values):
                        if isinstance(k, ast.Constant) and k.value in BRANCH_KEYWORDS and isinstance(v, ast.Constant) and v.value is True:
                            return BRANCH_KEYWORDS[k.value]  # type: ignore[index]
        return None

    def call_feature(self, node: ast.Call) -> str | None:
        q = self.imports.qualify(node.func)
        if q:
            if q in GATE_CALLS:
                return GATE_CALLS[q]
            root = q.split(".", 1)[0]
            if root in GATE_MODULES:
                return GATE_MODULES[root]
        return None

    # the walk -----------------------------------------------------------------------------------
    def visit_Call(self, node: ast.Call) -> None:
        for kw in node.keywords:
            if kw.arg in GATE_KEYWORDS and not isinstance(kw.value, ast.Constant):
                self.gate(kw.value, GATE_KEYWORDS[kw.arg])
        self.generic_visit(node)

    def visit_Assign(self, node: ast.Assign) -> None:
        for target in node.targets:
            key = target_key(target)
            if key is not None:
                self.assigned.setdefault(key, []).append(node.value)
        self.generic_visit(node)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        key = target_key(node.target)
        if key is not None and node.value is not None:
            self.assigned.setdefault(key, []).append(node.value)
        self.generic_visit(node)

    def visit_IfExp(self, node: ast.IfExp) -> None:
        self.tests.append((node.test, [node.body, node.orelse]))
        self.generic_visit(node)

    def visit_If(self, node: ast.If) -> None:
        self.tests.append((node.test, [*node.body, *node.orelse]))
        self.generic_visit(node)

    def generic_visit(self, node: ast.AST) -> None:
        body = getattr(node, "body", None)
        if isinstance(body, list):
            self.early_exits(body)
        orelse = getattr(node, "orelse", None)
        if isinstance(orelse, list):
            self.early_exits(orelse)
        super().generic_visit(node)

    def early_exits(self, statements: list[ast.stmt]) -> None:
        for i, statement in enumerate(statements[:-1]):
            if isinstance(statement, ast.If) and not statement.orelse and isinstance(statement.body[-1], (ast.Return, ast.Raise, ast.Continue, ast.Break)):
                self.tests.append((statement.test, list(statements[i + 1 :])))

    def visit_For(self, node: ast.For) -> None:
        it = node.iter
        if isinstance(it, ast.Call) and isinstance(it.func, ast.Attribute) and it.func.attr == "findAllNodes":
            for child in node.body:
                for sub in ast.walk(child):
                    if isinstance(sub, (ast.Compare, ast.Constant, ast.Call)):
                        self.gated.setdefault(id(sub), GRAPH_FEATURE)
        self.generic_visit(node)

    # marking ------------------------------------------------------------------------------------
    def gate(self, expr: ast.AST, feature: str) -> None:
        for node in ast.walk(expr):
            self.gated.setdefault(id(node), feature)
            key = target_key(node)
            if key is not None and key not in self.names:
                self.names[key] = feature

    def resolve(self) -> dict[int, str]:
        for test, runs in self.tests:
            feature = self.feature_used(runs)
            if feature is not None:
                self.gate(test, feature)
        done: set[str] = set()
        while len(done) < len(self.names):  # through the names a gate's value was assigned from
            for key in [k for k in self.names if k not in done]:
                done.add(key)
                for value in self.assigned.get(key, ()):
                    if _truth_value(value):  # a flag (`use_fused = ...`), not a device (`device = "cuda"`)
                        self.gate(value, self.names[key])
        return self.gated
