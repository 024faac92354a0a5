"""What a CUDA or C++ source says about itself, read from its text: its `__global__` kernels, whether
it is a program of its own (`main`), what it exports to Python (pybind11 / `TORCH_LIBRARY`
`m.def`), what it includes, and its size. For kernel triage (`porttool report`); the scan's PT703
finds the `.cu`/`.cuh` files themselves.

Text patterns, not a C++ parser: comments and string literals are blanked first (so a kernel in a
comment does not count), macros are not expanded (a kernel declared through a macro is missed).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

NATIVE_SUFFIXES = (".cu", ".cuh", ".cpp", ".cc", ".cxx", ".c", ".h", ".hpp")
CUDA_SUFFIXES = (".cu", ".cuh")
MAX_BYTES = 16 * 1024 * 1024

_COMMENT_OR_STRING = re.compile(r'//[^\n]*|/\*.*?\*/|"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'', re.S)
_GLOBAL = re.compile(r"\b__global__\b")
_LAUNCH_BOUNDS = re.compile(r"__launch_bounds__\s*\([^()]*\)")
_NAME_BEFORE_PAREN = re.compile(r"^[^;{}()]*?([A-Za-z_]\w*)\s*(?:<[^;{}()]*>)?\s*\(")
_DEVICE_FUNCTION = re.compile(r"\b__device__\b[^;{}()=]*?\b([A-Za-z_]\w*)\s*\([^;{}]*\)\s*(?:const\s*)?\{")
_MAIN = re.compile(r"\bint\s+main\s*\(")
_BINDING = re.compile(r'\b[A-Za-z_]\w*\s*\.\s*def\s*\(\s*"([A-Za-z_]\w*)')
_TORCH_LIBRARY = re.compile(r"\bTORCH_LIBRARY(?:_FRAGMENT)?\s*\(\s*([A-Za-z_]\w*)")
_PYBIND_MODULE = re.compile(r"\bPYBIND11_MODULE\s*\(")
_INCLUDE = re.compile(r'^[ \t]*#[ \t]*include[ \t]*"([^"\n]+)"', re.M)


@dataclass(frozen=True)
class NativeSource:
    """One CUDA/C++ source (a file, or the CUDA text given to `load_inline`)."""

    path: str  # as displayed; for inline sources, the Python file that holds them
    lines: int
    kernels: tuple[str, ...]  # `__global__` function names, in order of appearance
    device_functions: int  # `__device__` function definitions
    has_main: bool  # a program of its own, not a library for Python
    bindings: tuple[str, ...]  # names exported to Python with `m.def("name", ...)`
    library: str | None  # the `TORCH_LIBRARY(ns, m)` namespace, when there is one
    python_module: bool  # defines a `PYBIND11_MODULE` (the extension's entry point)
    includes: tuple[str, ...]  # `#include "..."` targets, as written

    @property
    def is_cuda(self) -> bool:
        return self.path.endswith(CUDA_SUFFIXES) or bool(self.kernels)


def _blank(match: re.Match[str]) -> str:
    text = match.group(0)
    if text.startswith(("//", "/*")):
        return re.sub(r"[^\n]", " ", text)  # keep line structure
    return text[0] + " " * (len(text) - 2) + text[-1]  # a string keeps its quotes: "x" → " "


def native_facts(path: str, text: str) -> NativeSource:
    """The facts of one source's text (never fails: unknown shapes just are not counted)."""
    includes = tuple(_INCLUDE.findall(text))  # before blanking: the include targets are strings
    bindings = tuple(dict.fromkeys(_BINDING.findall(re.sub(r"//[^\n]*|/\*.*?\*/", "", text, flags=re.S))))
    code = _COMMENT_OR_STRING.sub(_blank, text)
    kernels: list[str] = []
    for found in _GLOBAL.finditer(code):
        tail = _LAUNCH_BOUNDS.sub(" ", code[found.end() : found.end() + 400])
        name = _NAME_BEFORE_PAREN.match(tail)
        if name and name.group(1) not in kernels:
            kernels.append(name.group(1))
    library = _TORCH_LIBRARY.search(code)
    lines = text.count("\n") + (0 if text.endswith("\n") or not text else 1)
    return NativeSource(
        path=path,
        lines=lines,
        kernels=tuple(kernels),
        device_functions=len(_DEVICE_FUNCTION.findall(code)),
        has_main=_MAIN.search(code) is not None,
        bindings=bindings,
        library=library.group(1) if library else None,
        python_module=_PYBIND_MODULE.search(code) is not None,
        includes=includes,
    )


def read_native(path: Path, display: str) -> NativeSource | None:
    """Read and describe one file; None when it cannot be read (the report names it as unread)."""
    try:
        if path.stat().st_size > MAX_BYTES:
            return None
        text = path.read_bytes().decode("utf-8", errors="replace")
    except OSError:
        return None
    return native_facts(display, text)
