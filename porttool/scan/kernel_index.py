"""Where a project's custom kernels are defined and where Python reaches them, read from the `ast`
of its Python files — the facts `porttool report` links into its kernel triage.

Two questions, asked file by file:

- `kernel_definitions`: the CUDA extension builds (`CUDAExtension(name, sources)`,
  `cpp_extension.load(name=..., sources=...)`, `load_inline(name=..., cuda_sources=...,
  functions=[...])`), the Triton kernels (`@triton.jit` / `@triton.autotune` / `@triton.heuristics`
  functions, `k = triton.jit(f)`) and the Triton custom ops (`@torch.library.triton_op("ns::op")`).
- `kernel_references`: given the names those definitions give Python (extension module names,
  the functions an extension exports, Triton kernel and op names, and the functions that wrap
  them), every place a file imports, calls, launches or otherwise uses one.

Names are resolved through the file's imports (porttool.scan.import_table) and, for a kernel or
wrapper defined in another file, through a `from ... import name` of it; nothing is executed. A
kernel reached only through a dynamic lookup (`getattr`, a registry dict) is not linked.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace

from porttool.scan.import_table import ImportTable
from porttool.scan.native_sources import NativeSource, native_facts

CPP_EXTENSION = "torch.utils.cpp_extension"
BUILDERS = {f"{CPP_EXTENSION}.CUDAExtension": "CUDAExtension", f"{CPP_EXTENSION}.load": "load", f"{CPP_EXTENSION}.load_inline": "load_inline"}
TRITON_DECORATORS = ("triton.jit", "triton.autotune", "triton.heuristics")
TRITON_OP = "torch.library.triton_op"
# identifiers a file must spell before it is parsed for definitions
DEFINITION_WORDS = frozenset({"cpp_extension", "CUDAExtension", "load_inline", "triton", "triton_op"})


@dataclass(frozen=True)
class Place:
    """A place in a Python file: 1-based line, the enclosing definition, the line's text."""

    path: str
    line: int
    scope: str = ""  # qualified name of the enclosing def/class ("" at module level)
    text: str = ""
    cell: int | None = None  # notebook cell (0-based), for .ipynb files

    @property
    def top(self) -> str:
        """The enclosing top-level definition (what another file imports to reach this place)."""
        return self.scope.split(".", 1)[0]


@dataclass(frozen=True)
class ExtensionBuild:
    place: Place
    builder: str  # CUDAExtension | load | load_inline
    name: str | None  # the extension's module name, when literal
    sources: tuple[str, ...] = ()  # source paths as glob patterns ("*" where not literal)
    functions: tuple[str, ...] = ()  # load_inline(functions=[...])
    inline: NativeSource | None = None  # load_inline's CUDA source, when it is a literal in the file
    bound_to: str | None = None  # `ext = load(...)`: the variable that holds the module
    last_line: int = 0  # the call's last line (a finding inside the call belongs to it)


@dataclass(frozen=True)
class TritonKernel:
    place: Place  # the `def` line
    name: str
    first_line: int  # decorators included
    last_line: int
    marks: tuple[int, ...] = ()  # lines that make it a kernel: its decorators, the lines of `k = triton.jit(f)` calls

    @property
    def lines(self) -> int:
        return self.last_line - self.first_line + 1


@dataclass(frozen=True)
class TritonOp:
    place: Place
    op: str  # "namespace::name"
    function: str  # the Python function registered
    launches: tuple[str, ...]  # names used in its body (the kernels it launches, among others)
    first_line: int = 0  # its decorators' first line


@dataclass(frozen=True)
class KernelDefinitions:
    path: str
    builds: tuple[ExtensionBuild, ...] = ()
    triton_kernels: tuple[TritonKernel, ...] = ()
    triton_ops: tuple[TritonOp, ...] = ()


@dataclass(frozen=True)
class Reference:
    place: Place
    name: str  # the linked name (module, exported function, kernel, "ns::op", wrapper)
    kind: str  # import | call | launch | use | op
    spelled: str = ""  # the expression as written there (`fastops_cuda.softmax_fwd`), for people


@dataclass(frozen=True)
class LinkNames:
    """What to look for in a file (`kernel_references`)."""

    modules: frozenset[str] = frozenset()  # extension module names
    functions: Mapping[str, frozenset[str]] = field(default_factory=dict)  # exported function → its modules
    kernels: frozenset[str] = frozenset()  # Triton kernels and wrapper functions, by name
    ops: frozenset[str] = frozenset()  # "ns::name"
    local_modules: frozenset[str] = frozenset()  # extensions built or loaded in this very file
    local_names: frozenset[str] = frozenset()  # kernels and wrappers defined in this very file
    bound: frozenset[str] = frozenset()  # variables holding a module loaded in this file
    project_modules: frozenset[str] = frozenset()  # the project's own top-level packages and modules

    def words(self) -> set[str]:
        found = set(self.modules) | set(self.functions) | set(self.kernels) | set(self.bound)
        found.update(op.split("::")[-1] for op in self.ops)
        return found


def _parse(text: str, path: str) -> ast.Module | None:
    try:
        return ast.parse(text, filename=path)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None  # the scan reports it (PT902); the index just has nothing from it


def _definition_ranges(node: ast.AST, prefix: str, out: list[tuple[int, int, str]]) -> None:
    """(first line, last line, qualified name) of every def/class below `node`, each parent before
    its children. Walks statements only (expressions hold no definitions that name a scope)."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            name = f"{prefix}{child.name}"
            out.append((child.lineno, child.end_lineno or child.lineno, name))
            _definition_ranges(child, name + ".", out)
        elif isinstance(child, (ast.stmt, ast.excepthandler, ast.match_case)):
            _definition_ranges(child, prefix, out)


class ParsedSource:
    """One Python source parsed once for every question the index asks of it: its tree, a list of
    all its nodes (one walk), its imports, its definitions' line ranges and its simple assignments."""

    def __init__(self, path: str, text: str, tree: ast.Module, cell_of_line: Callable[[int], tuple[int | None, int]] | None = None) -> None:
        self.path, self.text, self.tree = path, text, tree
        self.lines = text.splitlines()
        self.nodes = list(ast.walk(tree))
        self.imports = ImportTable(tree, text)
        self.cell_of_line = cell_of_line
        ranges: list[tuple[int, int, str]] = []
        _definition_ranges(tree, "", ranges)
        self._ranges = ranges
        self.assignments = {target.id: node.value for node in self.nodes if isinstance(node, ast.Assign) for target in node.targets if isinstance(target, ast.Name)}

    def scope(self, node: ast.AST) -> str:
        """The qualified name of the innermost def/class that holds the node ("" at module level);
        a def's own node and its decorators belong to the scope around it."""
        line = getattr(node, "lineno", 0)
        own = node.name if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) else None
        found = ""
        for first, last, name in self._ranges:  # parents before children: the last match is innermost
            if first <= line <= last and not (own is not None and first == line and name.rsplit(".", 1)[-1] == own):
                found = name
        return found

    def line(self, line: int) -> int:
        """A line of the parsed text as the user sees it (its line in its notebook cell)."""
        return self.cell_of_line(line)[1] if self.cell_of_line is not None else line

    def place(self, node: ast.AST) -> Place:
        line = getattr(node, "lineno", 1)
        text = self.lines[line - 1].strip() if 0 < line <= len(self.lines) else ""
        cell = None
        if self.cell_of_line is not None:
            cell, line = self.cell_of_line(line)
        return Place(self.path, line, self.scope(node), text, cell)

    def qualify(self, node: ast.AST) -> str | None:
        return self.imports.qualify(node)

    def strings(self, node: ast.AST | None, depth: int = 0) -> list[str]:
        """The path patterns an expression spells (literal parts kept, the rest "*")."""
        if node is None or depth > 4:
            return []
        if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
            return [s for e in node.elts for s in self.strings(e, depth + 1)]
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add) and isinstance(node.left, (ast.List, ast.Tuple, ast.Name, ast.BinOp)):
            return self.strings(node.left, depth + 1) + self.strings(node.right, depth + 1)
        return [self.pattern(node, depth)]

    def pattern(self, node: ast.AST, depth: int = 0) -> str:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return node.value
        if isinstance(node, ast.JoinedStr):
            return "".join(v.value if isinstance(v, ast.Constant) and isinstance(v.value, str) else "*" for v in node.values)
        if isinstance(node, ast.Name) and node.id in self.assignments and depth < 4:
            return self.pattern(self.assignments[node.id], depth + 1)
        if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Div, ast.Add)):
            sep = "/" if isinstance(node.op, ast.Div) else ""
            return self.pattern(node.left, depth + 1) + sep + self.pattern(node.right, depth + 1)
        if isinstance(node, ast.Call):
            callee = self.qualify(node.func) or ""
            if callee in ("os.path.join", "pathlib.Path", "pathlib.PurePath", "posixpath.join") or callee.endswith(".joinpath"):
                return "/".join(self.pattern(a, depth + 1) for a in node.args) or "*"
            if callee in ("glob.glob", "glob.iglob") and node.args:
                return self.pattern(node.args[0], depth + 1)
            if callee in ("os.path.abspath", "os.path.realpath", "os.path.normpath", "str") and node.args:
                return self.pattern(node.args[0], depth + 1)
        return "*"

    def literal_text(self, node: ast.AST | None, depth: int = 0) -> str | None:
        """The text of a string (or list of strings) known in this file, for load_inline's sources."""
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return node.value
        if isinstance(node, ast.Name) and node.id in self.assignments and depth < 4:
            return self.literal_text(self.assignments[node.id], depth + 1)
        if isinstance(node, (ast.List, ast.Tuple)):
            parts = [self.literal_text(e, depth + 1) for e in node.elts]
            return "\n".join(p for p in parts if p is not None) if any(p is not None for p in parts) else None
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            left, right = self.literal_text(node.left, depth + 1), self.literal_text(node.right, depth + 1)
            return None if left is None and right is None else (left or "") + (right or "")
        return None


def parse_source(path: str, text: str, cell_of_line: Callable[[int], tuple[int | None, int]] | None = None) -> ParsedSource | None:
    tree = _parse(text, path)
    return None if tree is None else ParsedSource(path, text, tree, cell_of_line)


def _argument(call: ast.Call, keyword: str, position: int | None) -> ast.AST | None:
    for kw in call.keywords:
        if kw.arg == keyword:
            return kw.value
    if position is not None and len(call.args) > position and not any(isinstance(a, ast.Starred) for a in call.args[: position + 1]):
        return call.args[position]
    return None


def _names_of(node: ast.AST | None) -> tuple[str, ...]:
    if isinstance(node, (ast.List, ast.Tuple)):
        return tuple(e.value for e in node.elts if isinstance(e, ast.Constant) and isinstance(e.value, str))
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return (node.value,)
    return ()


def kernel_definitions(f: ParsedSource) -> KernelDefinitions:
    """The extension builds, Triton kernels and Triton ops defined in one Python source."""
    path = f.path
    bound = {id(node.value): node.targets[0].id for node in f.nodes if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)}
    builds: list[ExtensionBuild] = []
    kernels: dict[str, TritonKernel] = {}
    ops: list[TritonOp] = []
    defs = {n.name: n for n in f.nodes if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
    for node in f.nodes:
        if isinstance(node, ast.Call):
            callee = f.qualify(node.func) or ""
            builder = BUILDERS.get(callee)
            if builder is not None:
                builds.append(_build(f, node, builder, bound.get(id(node))))
            elif node.args and isinstance(node.args[0], ast.Name) and node.args[0].id in defs and (
                callee in TRITON_DECORATORS or (isinstance(node.func, ast.Call) and (f.qualify(node.func.func) or "") in TRITON_DECORATORS)
            ):  # k = triton.jit(f), k = triton.heuristics({...})(f)
                kernel = kernels.setdefault(node.args[0].id, _kernel(f, defs[node.args[0].id]))
                span = {f.line(n) for n in range(node.lineno, (node.end_lineno or node.lineno) + 1)}
                kernels[kernel.name] = replace(kernel, marks=tuple(sorted({*kernel.marks, *span})))
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for decorator in node.decorator_list:
                name = f.qualify(decorator.func if isinstance(decorator, ast.Call) else decorator) or ""
                if name in TRITON_DECORATORS:
                    kernels.setdefault(node.name, _kernel(f, node))
                elif name == TRITON_OP and isinstance(decorator, ast.Call) and decorator.args:
                    op = decorator.args[0]
                    if isinstance(op, ast.Constant) and isinstance(op.value, str):
                        used = tuple(dict.fromkeys(n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)))  # (one def's nodes)
                        first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
                        ops.append(TritonOp(f.place(node), op.value, node.name, used, f.line(first)))
    builds.sort(key=lambda b: b.place.line)
    return KernelDefinitions(path, tuple(builds), tuple(sorted(kernels.values(), key=lambda k: k.first_line)), tuple(ops))


def _build(f: ParsedSource, call: ast.Call, builder: str, bound_to: str | None) -> ExtensionBuild:
    name_node = _argument(call, "name", 0)
    name = f.pattern(name_node) if name_node is not None else None
    if name is not None and ("*" in name or not name.replace(".", "_").isidentifier()):
        name = None
    inline = None
    sources: tuple[str, ...] = ()
    functions: tuple[str, ...] = ()
    if builder == "load_inline":
        cuda = f.literal_text(_argument(call, "cuda_sources", 2))
        if cuda is not None:
            inline = native_facts(f.path, cuda)
        functions = _names_of(_argument(call, "functions", 3))
    else:
        sources = tuple(s for s in f.strings(_argument(call, "sources", 1)) if s.strip("*"))
    last = f.line(call.end_lineno or call.lineno)
    return ExtensionBuild(f.place(call), builder, name, sources, functions, inline, bound_to, last)


def _kernel(f: ParsedSource, node: ast.FunctionDef | ast.AsyncFunctionDef) -> TritonKernel:
    first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
    marks = tuple(d.lineno for d in node.decorator_list if (f.qualify(d.func if isinstance(d, ast.Call) else d) or "") in TRITON_DECORATORS)
    return TritonKernel(f.place(node), node.name, f.line(first), f.line(node.end_lineno or node.lineno), tuple(f.line(m) for m in marks))


def _attribute_chain(node: ast.AST) -> list[str] | None:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return list(reversed(parts))
    return None


def kernel_references(f: ParsedSource, names: LinkNames) -> tuple[Reference, ...]:
    """Every place one Python source imports, calls, launches or uses a linked name."""
    return tuple(sorted(set(_references(f, names)), key=lambda r: (r.place.line, r.name, r.kind)))


def _imported_names(f: ParsedSource, project_modules: frozenset[str]) -> dict[str, str]:
    """Local name → the name it imports, for `from M import a [as b]` where M is relative or one
    of the project's own modules (a `from operator import add` never links to a kernel `add`)."""
    found: dict[str, str] = {}
    for node in f.nodes:
        if isinstance(node, ast.ImportFrom) and (node.level > 0 or (node.module or "").split(".")[0] in project_modules):
            for alias in node.names:
                found[alias.asname or alias.name] = alias.name
    return found


def _module_imports(f: ParsedSource, names: LinkNames, aliases: dict[str, str]) -> Iterator[Reference]:
    """Imports of extension modules; fills `aliases` (local dotted name → the module)."""
    if not names.modules:
        return
    for node in f.nodes:
        if isinstance(node, ast.Import):
            for alias in node.names:
                last = alias.name.rsplit(".", 1)[-1]
                if last in names.modules:
                    aliases[alias.asname or alias.name] = last
                    yield Reference(f.place(node), last, "import")
        elif isinstance(node, ast.ImportFrom):
            last = (node.module or "").rsplit(".", 1)[-1]
            for alias in node.names:
                if alias.name in names.modules:
                    aliases[alias.asname or alias.name] = alias.name
                    yield Reference(f.place(node), alias.name, "import")
                elif last in names.modules:
                    aliases.setdefault("", last)  # `from ext import fn`: the module is used here
                    yield Reference(f.place(node), last, "import")
        elif isinstance(node, ast.Call) and (f.qualify(node.func) or "") == "importlib.import_module" and node.args:
            target = node.args[0]
            if isinstance(target, ast.Constant) and isinstance(target.value, str) and target.value.rsplit(".", 1)[-1] in names.modules:
                aliases.setdefault("", target.value.rsplit(".", 1)[-1])
                yield Reference(f.place(node), target.value.rsplit(".", 1)[-1], "import")


def _references(f: ParsedSource, names: LinkNames) -> Iterator[Reference]:
    aliases: dict[str, str] = {}
    yield from _module_imports(f, names, aliases)
    modules_here = set(names.local_modules) | set(aliases.values())
    imported = _imported_names(f, names.project_modules)
    reachable = set(names.local_names) | {local for local, real in imported.items() if real in names.kernels}
    launched = {id(n.value) for n in f.nodes if isinstance(n, ast.Subscript)}
    called = {id(n.func) for n in f.nodes if isinstance(n, ast.Call)}
    inner = {id(n.value) for n in f.nodes if isinstance(n, ast.Attribute)}  # only maximal dotted chains count
    for node in f.nodes:
        if isinstance(node, ast.Attribute) and id(node) not in inner:
            chain = _attribute_chain(node)
            spelled = ".".join(chain) if chain else f"….{node.attr}"
            if chain and chain[:2] == ["torch", "ops"] and len(chain) >= 4:
                op = f"{chain[2]}::{chain[3]}"
                if op in names.ops and (len(chain) == 4 or (len(chain) == 5 and chain[4] == "default")):
                    yield Reference(f.place(node), op, "op", spelled)
                continue
            receiver = ".".join(chain[:-1]) if chain else ""
            if id(node) in called and receiver in aliases:
                yield Reference(f.place(node), aliases[receiver], "call", spelled)
            elif id(node) in called and chain and chain[0] in names.bound:
                yield Reference(f.place(node), chain[0], "call", spelled)
            elif id(node) in called and node.attr in names.functions and names.functions[node.attr] & modules_here:
                yield Reference(f.place(node), node.attr, "call", spelled)
            elif node.attr in names.kernels and id(node) in launched:
                yield Reference(f.place(node), node.attr, "launch", spelled)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id in reachable:
            if f.scope(node).split(".", 1)[0] == node.id:
                continue  # inside its own definition (a recursive call, a kernel's own body)
            kind = "launch" if id(node) in launched else "call" if id(node) in called else "use"
            yield Reference(f.place(node), imported.get(node.id, node.id), kind, node.id)
