"""The kernel index of a whole project: read its CUDA/C++ sources and Python files, find the
kernel definitions, match each extension build to the sources it compiles, and follow Python
references from the kernels outwards (porttool.scan.kernel_index does one file).

Passes over the Python files, each parsing only the files whose text spells a name it looks for:

1. definitions (files that mention `cpp_extension`, `load_inline` or `triton`);
2. direct references: imports of the extension modules, calls of the functions they export,
   Triton launches and `torch.ops.ns.op(...)` calls;
3. up to `CALLER_LEVELS` rounds of callers: references to the top-level function or class that
   holds a reference of the round before (so a training script that calls a wrapper that launches
   a kernel is found as reaching that kernel).
"""

from __future__ import annotations

import posixpath
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path

from porttool.model import Diagnostic
from porttool.scan.kernel_index import (
    DEFINITION_WORDS,
    ExtensionBuild,
    KernelDefinitions,
    LinkNames,
    ParsedSource,
    Reference,
    kernel_definitions,
    kernel_references,
    parse_source,
)
from porttool.scan.native_sources import CUDA_SUFFIXES, NativeSource, read_native
from porttool.scan.sources import read_source

CALLER_LEVELS = 3


@dataclass(frozen=True)
class KernelIndex:
    natives: dict[str, NativeSource]  # display path → facts (every CUDA file, and C++ files builds compile)
    definitions: tuple[KernelDefinitions, ...]  # files that define something
    build_sources: dict[tuple[str, int], tuple[str, ...]]  # (file, line) of a build → native files it compiles
    included_by: dict[str, tuple[str, ...]]  # native file → the native files that `#include` it
    references: tuple[Reference, ...]  # level 0: direct
    callers: dict[str, tuple[Reference, ...]]  # top-level name → references to it (levels 1..)
    unread: tuple[str, ...] = ()  # native files that could not be read

    @property
    def builds(self) -> list[ExtensionBuild]:
        return [b for d in self.definitions for b in d.builds]


class _Python:
    """The project's Python sources: read once, their identifiers listed once (so a pass picks
    the files that spell one of its names by set intersection), parsed at most once."""

    def __init__(self, paths: Iterable[str]) -> None:
        self.texts: dict[str, tuple[str, Callable[[int], tuple[int | None, int]] | None]] = {}
        self._identifiers: dict[str, frozenset[str]] = {}
        self._parsed: dict[str, ParsedSource | None] = {}
        for display in paths:
            source = read_source(Path(display), display)
            if isinstance(source, Diagnostic):
                continue
            text, cell_of_line = source.text, None
            if source.is_notebook:
                from porttool.scan import notebooks

                try:
                    virtual = notebooks.to_virtual(source.text)
                except notebooks.NotebookError:
                    continue
                text, cell_of_line = virtual.source, virtual.cell_of_line
            self.texts[display] = (text, cell_of_line)
            self._identifiers[display] = frozenset(_IDENTIFIER.findall(text))

    def spelling(self, words: Iterable[str]) -> list[str]:
        wanted = frozenset(words)
        return [path for path, found in self._identifiers.items() if not wanted.isdisjoint(found)] if wanted else []

    def parsed(self, path: str) -> ParsedSource | None:
        if path not in self._parsed:
            text, cell_of_line = self.texts[path]
            self._parsed[path] = parse_source(path, text, cell_of_line)
        return self._parsed[path]


_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def project_modules(python_paths: Iterable[str]) -> frozenset[str]:
    """Names the project's own code can be imported by: every folder and module stem on its paths."""
    names: set[str] = set()
    for path in python_paths:
        parts = [p for p in path.replace("\\", "/").split("/") if p not in ("", ".", "..")]
        if parts:
            parts[-1] = parts[-1].rsplit(".", 1)[0]
        names.update(p for p in parts if p.isidentifier())
    return frozenset(names)


def sources_match(native: str, build_file: str, pattern: str) -> bool:
    """Does a build in `build_file` whose sources spell `pattern` compile `native`?"""
    pattern = pattern.replace("\\", "/")
    if pattern.startswith("*"):  # an unknown prefix (os.path.join(HERE, "csrc/x.cu"))
        tail = pattern.lstrip("*/")
        return bool(tail) and (fnmatchcase(native, "*/" + tail) or fnmatchcase(native, tail))
    if pattern.startswith("/"):
        return fnmatchcase(native, "*/" + posixpath.basename(pattern))
    here = posixpath.dirname(build_file)
    return fnmatchcase(native, posixpath.normpath(posixpath.join(here, pattern))) or fnmatchcase(native, posixpath.normpath(pattern))


def _resolve_includes(natives: dict[str, NativeSource]) -> dict[str, tuple[str, ...]]:
    by_name: dict[str, list[str]] = defaultdict(list)
    for path in natives:
        by_name[posixpath.basename(path)].append(path)
    included_by: dict[str, set[str]] = defaultdict(set)
    for path, facts in natives.items():
        for include in facts.includes:
            near = posixpath.normpath(posixpath.join(posixpath.dirname(path), include))
            if near in natives:
                included_by[near].add(path)
            elif len(by_name.get(posixpath.basename(include), ())) == 1:
                included_by[by_name[posixpath.basename(include)][0]].add(path)
    return {path: tuple(sorted(users - {path})) for path, users in included_by.items() if users - {path}}


def index_kernels(python_paths: Sequence[str], native_paths: Sequence[str]) -> KernelIndex:
    """Index a project given its Python files and its native (CUDA/C++) files, as displayed."""
    python = _Python(python_paths)
    definitions = tuple(
        d
        for path in python.spelling(DEFINITION_WORDS)
        if (parsed := python.parsed(path)) is not None and ((d := kernel_definitions(parsed)).builds or d.triton_kernels or d.triton_ops)
    )
    builds = [b for d in definitions for b in d.builds]
    wanted = [p for p in native_paths if p.endswith(CUDA_SUFFIXES) or any(sources_match(p, b.place.path, s) for b in builds for s in b.sources)]
    natives: dict[str, NativeSource] = {}
    unread: list[str] = []
    for path in wanted:
        facts = read_native(Path(path), path)
        if facts is None:
            unread.append(path)
        else:
            natives[path] = facts
    build_sources = {(b.place.path, b.place.line): tuple(p for p in natives if any(sources_match(p, b.place.path, s) for s in b.sources)) for b in builds}
    modules = project_modules(python.texts)
    references = _direct_references(python, definitions, build_sources, natives, modules)
    callers = _callers(python, references, modules)
    return KernelIndex(natives, definitions, build_sources, _resolve_includes(natives), references, callers, tuple(unread))


def exported_functions(build: ExtensionBuild, compiled: Iterable[NativeSource]) -> tuple[str, ...]:
    """What an extension gives Python: `load_inline`'s `functions`, the `m.def` names of its sources."""
    names = list(build.functions)
    for facts in compiled:
        names.extend(facts.bindings)
    return tuple(dict.fromkeys(names))


def exported_ops(compiled: Iterable[NativeSource]) -> tuple[str, ...]:
    """`TORCH_LIBRARY(ns, m) { m.def("op(...)") }` → "ns::op"."""
    return tuple(f"{facts.library}::{name}" for facts in compiled if facts.library for name in facts.bindings)


def _direct_references(python: _Python, definitions: Sequence[KernelDefinitions], build_sources: dict[tuple[str, int], tuple[str, ...]], natives: dict[str, NativeSource], modules: frozenset[str]) -> tuple[Reference, ...]:
    functions: dict[str, set[str]] = defaultdict(set)
    ext_modules: set[str] = set()
    ops: set[str] = set()
    kernels: set[str] = set()
    local_modules: dict[str, set[str]] = defaultdict(set)
    local_names: dict[str, set[str]] = defaultdict(set)
    bound: dict[str, set[str]] = defaultdict(set)
    for d in definitions:
        for b in d.builds:
            compiled = [natives[p] for p in build_sources.get((b.place.path, b.place.line), ())]
            key = b.name or f"<{b.builder}@{b.place.path}:{b.place.line}>"
            if b.name:
                ext_modules.add(b.name)
            local_modules[d.path].add(key)
            if b.bound_to:
                bound[d.path].add(b.bound_to)
            for fn in exported_functions(b, compiled):
                functions[fn].add(key)
            ops.update(exported_ops(compiled))
        for k in d.triton_kernels:
            kernels.add(k.name)
            local_names[d.path].add(k.name)
        for op in d.triton_ops:
            ops.add(op.op)
    words = ext_modules | set(functions) | kernels | {o.split("::")[-1] for o in ops} | {v for vs in bound.values() for v in vs}
    found: list[Reference] = []
    for path in python.spelling(words):
        names = LinkNames(
            modules=frozenset(ext_modules),
            functions={fn: frozenset(keys) for fn, keys in functions.items()},
            kernels=frozenset(kernels),
            ops=frozenset(ops),
            local_modules=frozenset(local_modules.get(path, ())),
            local_names=frozenset(local_names.get(path, ())),
            bound=frozenset(bound.get(path, ())),
            project_modules=modules,
        )
        parsed = python.parsed(path)
        if parsed is not None:
            found.extend(kernel_references(parsed, names))
    return tuple(found)


def _callers(python: _Python, direct: Sequence[Reference], modules: frozenset[str]) -> dict[str, tuple[Reference, ...]]:
    """Rounds of references to the top-level definitions that hold the references before."""
    callers: dict[str, list[Reference]] = defaultdict(list)
    seen: set[str] = set()
    frontier = list(direct)
    for _ in range(CALLER_LEVELS):
        tops: dict[str, set[str]] = defaultdict(set)  # file → top-level names defined there to follow
        for ref in frontier:
            top = ref.place.top
            if top and top not in seen:
                tops[ref.place.path].add(top)
        names = {n for ns in tops.values() for n in ns}
        if not names:
            break
        seen |= names
        frontier = []
        for path in python.spelling(names):
            link = LinkNames(kernels=frozenset(names), local_names=frozenset(tops.get(path, ())), project_modules=modules)
            parsed = python.parsed(path)
            for ref in kernel_references(parsed, link) if parsed is not None else ():
                if ref.kind == "import":
                    continue
                callers[ref.name].append(ref)
                frontier.append(ref)
    return {name: tuple(refs) for name, refs in callers.items()}
