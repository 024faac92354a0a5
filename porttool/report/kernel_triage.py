"""Kernel triage: every custom kernel the scan found, linked to the Python that reaches it, with its
size and what to do with it on each target.

An item is one kernel to port, built from the kernel-scope findings of the scan (PT701–PT704,
PT711, PT712) and the facts of porttool.scan.kernel_project:

- a CUDA file (PT703): its `__global__` kernels, the extension builds that compile it (directly
  or through an `#include`), or the program it belongs to when it has its own `main`;
- an inline CUDA source (PT702, `load_inline`);
- a Triton kernel (PT704 on its decorator, on `k = triton.jit(f)`, on the `triton_op` that
  launches it or on `wrap_triton(k)`: all one item);
- an extension build (PT701 on `CUDAExtension` / `load`): the wiring, apart from its sources.

Kernel-scope findings that are none of these (`CUDA_HOME`, `import triton`, jiterator) are listed
as the kernel work's other findings. Every kernel-scope finding lands in exactly one place, so the
page's counts add up to the scan's.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from porttool.model import Finding
from porttool.report.effort import KERNEL, scope_of
from porttool.report.kernel_guidance import GENERIC, Kind, kind_of
from porttool.scan.kernel_index import ExtensionBuild, Place, Reference, TritonKernel, TritonOp
from porttool.scan.kernel_project import KernelIndex, exported_functions, exported_ops

MAX_LEVEL = 3


@dataclass(frozen=True)
class Hop:
    """A Python place that reaches a kernel: level 0 uses it directly, level n calls level n-1."""

    place: Place
    via: str  # the name used there (module, function, kernel, op, wrapper)
    kind: str  # import | call | launch | use | op
    level: int


@dataclass
class KernelItem:
    key: str  # a stable id (an anchor on the page)
    form: str  # cuda | inline | triton | build
    code: str  # the rule of its main finding
    name: str
    path: str
    line: int
    lines: int  # size, in lines of code
    kernels: tuple[str, ...]  # the kernel functions it holds
    kind: Kind = GENERIC
    builds: tuple[ExtensionBuild, ...] = ()  # the builds that compile it (or the item's own build)
    included_by: tuple[str, ...] = ()
    standalone: bool = False  # part of a program with its own `main`, reached from no Python
    hops: tuple[Hop, ...] = ()
    findings: list[Finding] = field(default_factory=list)  # every target's findings mapped here
    cell: int | None = None  # the notebook cell it is defined in

    @property
    def units(self) -> int:
        """How many kernels the estimate counts for it: one per kernel function of a CUDA file or
        inline source (at least one), one for a Triton kernel or a build — and none for a header
        without kernels of its own that other CUDA files include (it is ported with them)."""
        if self.form == "cuda" and not self.kernels and self.included_by:
            return 0
        return max(1, len(self.kernels)) if self.form in ("cuda", "inline") else 1

    @property
    def reach(self) -> str:
        if any(h.level == 0 for h in self.hops):
            return "python"
        if self.standalone:
            return "standalone"
        if self.builds:
            return "build"
        if self.included_by:
            return "included"
        return "unlinked"

    def findings_for(self, target: str) -> list[Finding]:
        return [f for f in self.findings if f.target == target]


@dataclass
class Triage:
    items: list[KernelItem]
    other: list[Finding]  # kernel-scope findings that are no kernel item (every target)
    unread: tuple[str, ...] = ()

    def for_target(self, target: str) -> list[KernelItem]:
        return [i for i in self.items if i.findings_for(target)]

    def other_for(self, target: str) -> list[Finding]:
        return [f for f in self.other if f.target == target]


def _slug(text: str) -> str:
    return "k-" + re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def build_triage(findings: Iterable[Finding], index: KernelIndex) -> Triage:
    """Map every kernel-scope finding (of any target) to its item; link items to Python."""
    linker = _Linker(index)
    items: dict[str, KernelItem] = {}
    other: list[Finding] = []
    for finding in sorted((f for f in findings if scope_of(f.code) == KERNEL), key=lambda f: (f.path, f.span.line, f.code, f.target)):
        item = linker.item_for(finding, items)
        if item is None:
            other.append(finding)
        else:
            item.findings.append(finding)
    for item in items.values():
        item.hops = tuple(linker.hops(item))
    ordered = sorted(items.values(), key=lambda i: (_REACH_ORDER[i.reach], -i.units, i.path, i.line))
    return Triage(ordered, other, index.unread)


_REACH_ORDER = {"python": 0, "build": 1, "included": 2, "unlinked": 3, "standalone": 4}


class _Linker:
    def __init__(self, index: KernelIndex) -> None:
        self.index = index
        self.kernels: dict[str, list[TritonKernel]] = {}
        self.ops: dict[str, list[TritonOp]] = {}
        for d in index.definitions:
            self.kernels[d.path] = list(d.triton_kernels)
            self.ops[d.path] = list(d.triton_ops)
        self.compiled_by: dict[str, list[ExtensionBuild]] = {}
        for build in index.builds:
            for path in index.build_sources.get((build.place.path, build.place.line), ()):
                self.compiled_by.setdefault(path, []).append(build)

    # -- findings → items ---------------------------------------------------------------------
    def item_for(self, finding: Finding, items: dict[str, KernelItem]) -> KernelItem | None:
        code, path, line, cell = finding.code, finding.path, finding.span.line, finding.cell
        if code == "PT703":
            return self._cuda_file(path, items)
        if code in ("PT701", "PT702"):
            build = next((b for b in self.index.builds if b.place.path == path and b.place.cell == cell and b.place.line <= line <= b.last_line), None)
            return None if build is None else self._build(build, items)
        if code == "PT704":
            kernel = self._triton_at(path, line, cell)
            if kernel is not None:
                return self._triton(kernel, items)
        return None

    def _cuda_file(self, path: str, items: dict[str, KernelItem]) -> KernelItem:
        key = _slug(path)
        if key not in items:
            facts = self.index.natives.get(path)
            kernels = facts.kernels if facts else ()
            builds = self._builds_compiling(path)
            items[key] = KernelItem(
                key, "cuda", "PT703", path, path, 1, facts.lines if facts else 0, kernels,
                kind=kind_of(kernels, posixpath.splitext(posixpath.basename(path))[0]),
                builds=tuple(builds),
                included_by=self.index.included_by.get(path, ()),
                standalone=not builds and self._in_program(path, set()),
            )
        return items[key]

    def _builds_compiling(self, path: str, seen: set[str] | None = None) -> list[ExtensionBuild]:
        seen = seen if seen is not None else set()
        if path in seen:
            return []
        seen.add(path)
        found = list(self.compiled_by.get(path, ()))
        for includer in self.index.included_by.get(path, ()):
            found.extend(b for b in self._builds_compiling(includer, seen) if b not in found)
        return found

    def _in_program(self, path: str, seen: set[str]) -> bool:
        """Is this file a program with `main`, or included only by such programs?"""
        facts = self.index.natives.get(path)
        if facts is not None and facts.has_main:
            return True
        users = [u for u in self.index.included_by.get(path, ()) if u not in seen]
        seen.add(path)
        return bool(users) and all(self._in_program(u, seen) for u in users)

    def _build(self, build: ExtensionBuild, items: dict[str, KernelItem]) -> KernelItem:
        key = _slug(f"{build.place.path}-{'' if build.place.cell is None else f'cell{build.place.cell}-'}{build.place.line}-{build.builder}")
        if key not in items:
            name = build.name or build.builder
            if build.builder == "load_inline":
                inline = build.inline
                kernels = inline.kernels if inline else ()
                items[key] = KernelItem(key, "inline", "PT702", name, build.place.path, build.place.line, inline.lines if inline else 0, kernels, kind=kind_of(kernels, name), builds=(build,), cell=build.place.cell)
            else:
                compiled = self.index.build_sources.get((build.place.path, build.place.line), ())
                size = sum(self.index.natives[p].lines for p in compiled if p in self.index.natives)
                items[key] = KernelItem(key, "build", "PT701", name, build.place.path, build.place.line, size, (), kind=kind_of((), name), builds=(build,), cell=build.place.cell)
        return items[key]

    def _triton_at(self, path: str, line: int, cell: int | None) -> TritonKernel | None:
        kernels = self.kernels.get(path, [])
        for kernel in kernels:
            if kernel.place.cell == cell and (line in kernel.marks or kernel.first_line <= line <= kernel.place.line):
                return kernel
        by_name = {k.name: k for k in kernels}
        for op in self.ops.get(path, []):
            if op.place.cell == cell and op.first_line <= line <= op.place.line:
                return next((by_name[n] for n in op.launches if n in by_name), None)
        for ref in self.index.references:  # wrap_triton(k) / a launch on the finding's line
            if ref.place.path == path and ref.place.cell == cell and ref.place.line == line and ref.name in by_name:
                return by_name[ref.name]
        return None

    def _triton(self, kernel: TritonKernel, items: dict[str, KernelItem]) -> KernelItem:
        key = _slug(f"{kernel.place.path}-{'' if kernel.place.cell is None else f'cell{kernel.place.cell}-'}{kernel.name}")
        if key not in items:
            stem = posixpath.splitext(posixpath.basename(kernel.place.path))[0]
            items[key] = KernelItem(key, "triton", "PT704", kernel.name, kernel.place.path, kernel.place.line, kernel.lines, (kernel.name,), kind=kind_of((stem,), kernel.name), cell=kernel.place.cell)
        return items[key]

    # -- items → Python -----------------------------------------------------------------------
    def hops(self, item: KernelItem) -> list[Hop]:
        direct = [Hop(r.place, r.spelled or r.name, r.kind, 0) for r in self._direct(item)]
        found = {(h.place.path, h.place.line): h for h in direct}
        frontier: list[Hop] = direct
        followed: set[str] = set()
        for level in range(1, MAX_LEVEL + 1):
            nxt: list[Hop] = []
            for hop in frontier:
                top = hop.place.top
                if not top or top in followed:
                    continue
                followed.add(top)
                for ref in self.index.callers.get(top, ()):
                    where = (ref.place.path, ref.place.line)
                    if where not in found:
                        found[where] = Hop(ref.place, ref.spelled or ref.name, ref.kind, level)
                        nxt.append(found[where])
            frontier = nxt
        return sorted(found.values(), key=lambda h: (h.level, h.place.path, h.place.line))

    def _direct(self, item: KernelItem) -> list[Reference]:
        refs = self.index.references
        if item.form == "triton":
            ops = {op.op for op in self.ops.get(item.path, []) if item.name in op.launches}
            kernel = next((k for k in self.kernels.get(item.path, []) if k.name == item.name), None)
            marks = set(kernel.marks) if kernel is not None else set()
            # `k = triton.jit(k)` / `k = triton.heuristics(...)(k)` make the kernel; they do not reach it
            return [r for r in refs if (r.name == item.name and r.kind != "import" and not (r.place.path == item.path and r.place.line in marks)) or (r.kind == "op" and r.name in ops)]
        found: list[Reference] = []
        for build in item.builds:
            found.extend(r for r in refs if self._reaches(r, build) and r not in found)
        return found

    def _reaches(self, ref: Reference, build: ExtensionBuild) -> bool:
        if build.name and ref.name == build.name and ref.kind in ("import", "call"):
            return True
        if ref.kind == "call" and build.bound_to and ref.name == build.bound_to and ref.place.path == build.place.path:
            return True
        compiled = [self.index.natives[p] for p in self.index.build_sources.get((build.place.path, build.place.line), ()) if p in self.index.natives]
        if ref.kind == "op":
            return ref.name in exported_ops(compiled)
        if ref.kind == "call" and ref.name in exported_functions(build, compiled):
            here = ref.place.path == build.place.path or any(r.kind == "import" and r.name == build.name and r.place.path == ref.place.path for r in self.index.references)
            return here
        return False


def python_entry_points(item: KernelItem) -> list[Place]:
    """The outermost places found (the highest level): where a reader starts to follow the chain."""
    if not item.hops:
        return []
    top = max(h.level for h in item.hops)
    return [h.place for h in item.hops if h.level == top]


def total_lines(items: Sequence[KernelItem]) -> int:
    return sum(i.lines for i in items if i.form != "build")
