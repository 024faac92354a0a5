"""Device-selection chains that never reach the target, and the device-name lists that check them.

`"cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"`,
the same as an `if/elif/else` assigning one name or returning, and a run of `if ...: return
torch.device(...)` ending in a CPU `return`: such a chain already dispatches per backend, but on
the port's target none of its tests holds, so the program silently runs on the CPU. The chain is
one site (rule PT011); the lists that name the devices it may choose (`assert device_type in
["cuda", "mps", "cpu"]`, `choices=[...]`) are another (PT012), so they can follow it.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass

from porttool.scan.import_table import ImportTable

AVAILABILITY = {
    "torch.cuda.is_available": "cuda",
    "torch.backends.mps.is_available": "mps",
    "torch.mps.is_available": "mps",
    "torch.xpu.is_available": "xpu",
    "torch.hpu.is_available": "hpu",
    "torch.npu.is_available": "npu",
    "torch.mtia.is_available": "mtia",
}
PORTED_NAMES = {"neuron", "xla"}
BACKEND_PREFIXES = ("torch.backends.mps", "torch.mps", "torch.xpu", "torch.accelerator", "torch.neuron", "torch.hpu", "torch.npu", "torch.mtia", "torch_xla")
DEVICE_NAMES = {"cuda", "cpu", "mps", "xpu", "hpu", "npu", "mtia", "neuron", "xla", "meta"}


def device_name(node: ast.AST, imports: ImportTable) -> str | None:
    """`"cuda"`, `"cuda:0"`, `torch.device("cuda")` → "cuda" (and the same for other devices)."""
    if isinstance(node, ast.Call) and imports.qualify(node.func) == "torch.device" and len(node.args) == 1 and not node.keywords:
        node = node.args[0]
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        name = node.value.split(":", 1)[0]
        return name if name in DEVICE_NAMES else None
    return None


def _backend(test: ast.AST, imports: ImportTable) -> str | None:
    """The backend a link tests: `torch.backends.mps.is_available()`, also behind feature probes
    (`hasattr(torch.backends, "mps") and torch.backends.mps.is_available()`)."""
    if isinstance(test, ast.BoolOp) and isinstance(test.op, ast.And):
        probes = [v for v in test.values if isinstance(v, ast.Call) and isinstance(v.func, ast.Name) and v.func.id in ("hasattr", "getattr")]
        tested = [v for v in test.values if v not in probes]
        return _backend(tested[0], imports) if len(tested) == 1 and probes else None
    if isinstance(test, ast.Call) and not test.args and not test.keywords:
        return AVAILABILITY.get(imports.qualify(test.func) or "")
    return None


@dataclass(frozen=True)
class Chain:
    backends: tuple[str, ...]  # the backend each link tests, in order

    @property
    def lacks_target(self) -> bool:
        """A chain through CUDA and another backend to the CPU: it never reaches an accelerator
        it does not name (every target's; a chain that names it is not a `Chain`)."""
        return "cuda" in self.backends and len(self.backends) >= 2


def ifexp_chain(node: ast.IfExp, imports: ImportTable) -> tuple[Chain | None, list[ast.IfExp]]:
    """The chain `node` heads (None if it is not one), and the conditional expressions inside it."""
    backends: list[str] = []
    inner: list[ast.IfExp] = []
    current: ast.AST = node
    ok = True
    while isinstance(current, ast.IfExp):
        if current is not node:
            inner.append(current)
        backend = _backend(current.test, imports)
        if backend is None or device_name(current.body, imports) != backend:
            ok = False
        else:
            backends.append(backend)
        current = current.orelse
    if not ok or device_name(current, imports) != "cpu":
        return None, inner
    return Chain(tuple(backends)), inner


def _choice(statements: list[ast.stmt], imports: ImportTable) -> tuple[str, str] | None:
    """(what a one-statement branch does: `=name` or `return`, the device it names)."""
    if len(statements) != 1:
        return None
    statement = statements[0]
    if isinstance(statement, ast.Assign) and len(statement.targets) == 1 and isinstance(statement.targets[0], ast.Name):
        value: ast.AST | None = statement.value
        how = "=" + statement.targets[0].id
    elif isinstance(statement, ast.Return):
        value, how = statement.value, "return"
    else:
        return None
    name = device_name(value, imports) if value is not None else None
    return (how, name) if name is not None else None


def if_chain(node: ast.If, imports: ImportTable, previous: Callable[[], ast.stmt | None] | None = None) -> tuple[Chain | None, list[ast.If]]:
    """An `if/elif/.../else` chain, each branch assigning one name (the same) or returning a device;
    or, with no `else`, one that the statement before it (`previous()`) gives its CPU default
    (`device = "cpu"` / `if cuda: device = "cuda"` / `elif mps: device = "mps"`)."""
    backends: list[str] = []
    inner: list[ast.If] = []
    current = node
    how: str | None = None
    ok = True
    while True:
        backend = _backend(current.test, imports)
        choice = _choice(current.body, imports)
        if backend is None or choice is None or choice[1] != backend or how not in (None, choice[0]):
            ok = False
        else:
            backends.append(backend)
            how = choice[0]
        if len(current.orelse) == 1 and isinstance(current.orelse[0], ast.If):
            current = current.orelse[0]
            inner.append(current)
            continue
        break
    final = _choice(current.orelse, imports)
    if ok and not current.orelse and how is not None and how != "return" and previous is not None:
        before = previous()
        final = _choice([before], imports) if before is not None else None
    if not ok or final is None or final != (how, "cpu"):
        return None, inner
    return Chain(tuple(backends)), inner


def return_chain(statements: list[ast.stmt], start: int, imports: ImportTable) -> tuple[Chain, list[ast.If]] | None:
    """`if torch.cuda.is_available(): return "cuda"` / `if ...mps...: return "mps"` / `return "cpu"`
    starting at `statements[start]` (and not inside a longer run: a port puts its link first)."""
    before = statements[start - 1] if start > 0 else None
    if isinstance(before, ast.If) and not before.orelse and len(before.body) == 1 and isinstance(before.body[0], ast.Return):
        return None
    backends: list[str] = []
    links: list[ast.If] = []
    for statement in statements[start:]:
        if isinstance(statement, ast.If) and not statement.orelse:
            backend = _backend(statement.test, imports)
            choice = _choice(statement.body, imports)
            if backend is None or choice != ("return", backend):
                return None
            backends.append(backend)
            links.append(statement)
            continue
        if _choice([statement], imports) == ("return", "cpu") and backends:
            return Chain(tuple(backends)), links
        return None
    return None


def device_list(node: ast.AST) -> str | None:
    """A literal list/tuple/set of device names with CUDA and another device: the devices a check
    accepts (`assert device_type in ["cuda", "mps", "cpu"]`, `choices=("cuda", "cpu")`). "lacks":
    it names neither `"neuron"` nor `"xla"`; "ported": it names one (a port extended it); None:
    not such a list."""
    if not isinstance(node, (ast.List, ast.Tuple, ast.Set)) or not node.elts:
        return None
    names = [e.value for e in node.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)]
    others = [e for e in node.elts if not (isinstance(e, ast.Constant) and isinstance(e.value, str))]
    if any(not _accelerator_type(e) for e in others):
        return None
    devices = {n for n in names if n in DEVICE_NAMES}
    if "cuda" not in devices or len(devices) + len(others) < 2 or not all(n in DEVICE_NAMES or n in ("", "auto") for n in names):
        return None
    return "ported" if others or devices & PORTED_NAMES else "lacks"


def _accelerator_type(node: ast.AST) -> bool:
    """`DEVICE.type`: what the portable port adds to such a list."""
    return isinstance(node, ast.Attribute) and node.attr == "type" and isinstance(node.value, ast.Name)


def return_runs(statements: list[ast.stmt], imports: ImportTable) -> list[list[ast.If]]:
    """Runs of `if <test>: return <device>` ending in `return <device>` whose tests name CUDA and
    another backend (a port's own first link included): each dispatches per backend as a whole."""
    runs: list[list[ast.If]] = []
    run: list[ast.If] = []
    for statement in statements:
        if isinstance(statement, ast.If) and not statement.orelse and len(statement.body) == 1 and isinstance(statement.body[0], ast.Return):
            run.append(statement)
            continue
        if run and isinstance(statement, ast.Return):
            names = {imports.qualify(n) or "" for s in run for n in ast.walk(s.test) if isinstance(n, (ast.Name, ast.Attribute))}
            if any(n.startswith("torch.cuda") for n in names) and any(n.startswith(BACKEND_PREFIXES) for n in names):
                runs.append(run)
        run = []
    return runs
