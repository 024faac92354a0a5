"""Integer devices held in variables: `.to(local_rank)`, `.cuda(args.gpu)`, `device=gpu_id`,
`torch.device(rank)` (matcher kind `device-index-variable`).

PyTorch reads a bare integer device as "index N of the current accelerator": on a CPU-only
machine `.to(local_rank)` raises "Cannot access accelerator device when none is available". A
device argument is reported when its value is an integer, as far as the code shows:

- an `int` literal (only where no other rule reports it: `.to(0)`, `torch.device(0)`);
- `int(...)`, `len(...)`, `torch.cuda.device_count()`, `current_device()`, `dist.get_rank()`...,
  and `+ - * // %` of such values (`rank % torch.cuda.device_count()`);
- a name whose every assignment in its function (or the module) is one of those, a loop variable
  over `range(...)`, a parameter annotated `int` or defaulting to an integer;
- a name or attribute spelled like a device index (`local_rank`, `rank`, `gpu`, `gpu_id`,
  `args.gpu`, `self.device_id`, ...) that is never assigned anything else.

Only the file's own code is read: a value that comes from another module is judged by its name.
The scan calls this only for files that spell `cuda`, in one walk of the whole file:
the matcher's per-line pruning does not apply (a `.to(local_rank)` line spells no `cuda`).
Measured on 687 files of torch's own `nn`, `cuda`, `distributed`, `amp` and `utils` packages
(`porttool scan DIR --no-cache -j1`): 2.3 s CPU, against 1.95 s with `--ignore PT016`.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator

from porttool.scan.import_table import ImportTable

INDEX_NAME = re.compile(
    r"(?:local_|global_|node_|gpu_)?rank"
    r"|(?:local_)?gpu(?:_?(?:id|idx|index|num|no|ordinal))?"
    r"|(?:gpu|device|dev|cuda|local_device)_?(?:id|idx|index|num|no|ordinal)"
    r"|local_(?:device|gpu)",
    re.IGNORECASE,
)
INT_CALLS = {
    "torch.cuda.device_count",
    "torch.cuda.current_device",
    "torch.accelerator.device_count",
    "torch.accelerator.current_device_index",
    "torch.distributed.get_rank",
    "torch.distributed.get_world_size",
    "torch.distributed.get_local_rank",
    "torch.distributed.get_node_local_rank",
}
INT_BUILTINS = {"int", "len", "round"}
INT_OPERATORS = (ast.Add, ast.Sub, ast.Mult, ast.FloorDiv, ast.Mod)
# calls whose `device=` is a device: torch's own functions and the tensor-creating methods
DEVICE_METHODS = {"to", "cuda", "new_zeros", "new_ones", "new_empty", "new_full", "new_tensor"}
SKIPPED_PREFIXES = ("torch.cuda.", "torch.accelerator.")  # their `device=` is other rules' business
_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)


class _Scope:
    """What a function (or the module) binds: each name's assigned values (None: unknown)."""

    def __init__(self, parent: _Scope | None) -> None:
        self.parent = parent
        self.values: dict[str, list[ast.expr | None]] = {}
        self.int_params: set[str] = set()

    def bind(self, name: str, value: ast.expr | None) -> None:
        self.values.setdefault(name, []).append(value)


def _parameters(node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda, scope: _Scope) -> None:
    args = node.args
    positional = [*args.posonlyargs, *args.args]
    defaults: list[ast.expr | None] = [None] * (len(positional) - len(args.defaults)) + list(args.defaults)
    pairs = [*zip(positional, defaults), *zip(args.kwonlyargs, args.kw_defaults)]
    for arg, default in pairs:
        annotation = arg.annotation
        if isinstance(annotation, ast.Name) and annotation.id == "int":
            scope.int_params.add(arg.arg)
        elif isinstance(default, ast.Constant) and type(default.value) is int and annotation is None:
            scope.int_params.add(arg.arg)
        scope.bind(arg.arg, None if annotation is None or arg.arg in scope.int_params else annotation)
    for extra in (args.vararg, args.kwarg):
        if extra is not None:
            scope.bind(extra.arg, ast.List([], ast.Load()))


class _Judge:
    def __init__(self, imports: ImportTable) -> None:
        self.imports = imports
        self._busy: set[tuple[int, str]] = set()

    def is_int(self, expr: ast.expr, scope: _Scope) -> bool:
        if isinstance(expr, ast.Constant):
            return type(expr.value) is int
        if isinstance(expr, ast.Call):
            if isinstance(expr.func, ast.Name) and expr.func.id in INT_BUILTINS:
                return True
            return self.imports.qualify(expr.func) in INT_CALLS
        if isinstance(expr, ast.BinOp):
            if not isinstance(expr.op, INT_OPERATORS):
                return False
            if isinstance(expr.op, ast.Mod) and isinstance(expr.left, (ast.Constant, ast.JoinedStr)) and not isinstance(getattr(expr.left, "value", 0), int):
                return False  # `"cuda:%d" % rank` formats a string
            return self.is_int(expr.left, scope) and self.is_int(expr.right, scope)
        if isinstance(expr, ast.IfExp):
            return self.is_int(expr.body, scope) and self.is_int(expr.orelse, scope)
        if isinstance(expr, ast.Attribute):
            return INDEX_NAME.fullmatch(expr.attr) is not None and self.imports.qualify(expr) is None
        if isinstance(expr, ast.Name):
            return self._name_is_int(expr.id, scope)
        return False

    def _name_is_int(self, name: str, scope: _Scope | None) -> bool:
        while scope is not None and name not in scope.values:
            scope = scope.parent
        if scope is None:  # bound nowhere in this file (a builtin or a star import): its name decides
            return INDEX_NAME.fullmatch(name) is not None
        if name in scope.int_params:
            return True
        key = (id(scope), name)
        if key in self._busy:
            return True  # (`rank = rank % n`: the other assignments decide)
        self._busy.add(key)
        try:
            values = scope.values[name]
            known = [v for v in values if v is not None]
            if len(known) == len(values):
                return all(self.is_int(v, scope) for v in known)
            # a parameter or an unknown binding: the name decides, unless something else is assigned
            return INDEX_NAME.fullmatch(name) is not None and all(self.is_int(v, scope) for v in known)
        finally:
            self._busy.discard(key)


def device_index_sites(tree: ast.Module, imports: ImportTable) -> Iterator[tuple[ast.AST, str]]:
    """(node, kind) for each integer device argument: kind `arg` (a positional argument's value),
    `keyword` (a `device=` keyword) or `call` (a whole `torch.device(i)`).

    One walk collects each scope's bindings and the device arguments; they are judged after it,
    when every binding is known."""
    judge = _Judge(imports)
    candidates: list[tuple[ast.AST, str, ast.expr, _Scope]] = []
    stack: list[tuple[ast.AST, _Scope]] = [(statement, _Scope(None)) for statement in reversed(tree.body)]
    while stack:
        node, scope = stack.pop()
        cls = type(node)
        if cls is ast.FunctionDef or cls is ast.AsyncFunctionDef or cls is ast.Lambda:
            inner = _Scope(scope)
            _parameters(node, inner)  # type: ignore[arg-type]
            args = node.args  # type: ignore[attr-defined]
            outer: list[ast.AST] = [*args.defaults, *[d for d in args.kw_defaults if d is not None]]
            if cls is not ast.Lambda:
                scope.bind(node.name, None)  # type: ignore[attr-defined]
                outer += node.decorator_list  # type: ignore[attr-defined]
            body = node.body if isinstance(node.body, list) else [node.body]  # type: ignore[attr-defined]
            stack.extend((child, scope) for child in outer)
            stack.extend((child, inner) for child in body)
            continue
        if cls is ast.Call:
            candidates.extend((site, kind, expr, scope) for site, kind, expr in _device_arguments(node, imports))  # type: ignore[arg-type]
        elif cls in _BINDERS:
            _BINDERS[cls](node, scope)
        stack.extend((child, scope) for child in ast.iter_child_nodes(node))
    for site, kind, expr, scope in candidates:
        if judge.is_int(expr, scope):
            yield site, kind


def _bind_target(target: ast.AST, value: ast.expr | None, scope: _Scope) -> None:
    if isinstance(target, ast.Name):
        scope.bind(target.id, value)
    elif isinstance(target, (ast.Tuple, ast.List)):
        for element in target.elts:
            _bind_target(element, None, scope)
    elif isinstance(target, ast.Starred):
        _bind_target(target.value, None, scope)


def _bind_assign(node: ast.Assign, scope: _Scope) -> None:
    for target in node.targets:
        _bind_target(target, node.value, scope)


def _bind_annassign(node: ast.AnnAssign, scope: _Scope) -> None:
    is_int = isinstance(node.annotation, ast.Name) and node.annotation.id == "int"
    _bind_target(node.target, ast.Constant(0) if is_int else node.value, scope)


def _bind_augassign(node: ast.AugAssign, scope: _Scope) -> None:
    if isinstance(node.target, ast.Name):
        scope.bind(node.target.id, ast.BinOp(ast.Name(node.target.id, ast.Load()), node.op, node.value))


def _bind_for(node: ast.For | ast.AsyncFor, scope: _Scope) -> None:
    over_range = isinstance(node.iter, ast.Call) and isinstance(node.iter.func, ast.Name) and node.iter.func.id == "range"
    _bind_target(node.target, ast.Constant(0) if over_range and isinstance(node.target, ast.Name) else None, scope)


def _bind_unknown_target(node: ast.AST, scope: _Scope) -> None:
    target = getattr(node, "optional_vars", None) or getattr(node, "target", None)
    if target is not None:
        _bind_target(target, getattr(node, "value", None) if isinstance(node, ast.NamedExpr) else None, scope)
    name = getattr(node, "name", None)
    if isinstance(name, str):  # an except handler's name, a class
        scope.bind(name, None)


def _bind_import(node: ast.Import | ast.ImportFrom, scope: _Scope) -> None:
    for alias in node.names:
        scope.bind((alias.asname or alias.name).split(".")[0], None)


_BINDERS = {
    ast.Assign: _bind_assign,
    ast.AnnAssign: _bind_annassign,
    ast.AugAssign: _bind_augassign,
    ast.For: _bind_for,
    ast.AsyncFor: _bind_for,
    ast.withitem: _bind_unknown_target,
    ast.NamedExpr: _bind_unknown_target,
    ast.ExceptHandler: _bind_unknown_target,
    ast.ClassDef: _bind_unknown_target,
    ast.Import: _bind_import,
    ast.ImportFrom: _bind_import,
}


def _device_arguments(node: ast.Call, imports: ImportTable) -> Iterator[tuple[ast.AST, str, ast.expr]]:
    """The device arguments of one call that may be integers: (site, kind, the value to judge)."""
    func = node.func
    method = func.attr if isinstance(func, ast.Attribute) else None
    if method is None and not isinstance(func, ast.Name):
        return
    if method is not None and method not in DEVICE_METHODS and method != "device" and not node.keywords:
        return  # (the common case, answered without resolving a name)
    q = imports.qualify(func)
    if method is not None and (q is not None or imports.is_module_path(func.value)):  # type: ignore[union-attr]
        method = None
    if q == "torch.device":
        if len(node.args) == 1 and not node.keywords and not isinstance(node.args[0], ast.Starred):
            yield node, "call", node.args[0]
        return
    if method in ("to", "cuda") and node.args and not isinstance(node.args[0], ast.Starred):
        first = node.args[0]
        if not (isinstance(first, ast.Constant) and method == "cuda"):  # (`.cuda(0)`: PT001's own index form)
            yield first, "arg", first
    device_keyword = method in DEVICE_METHODS or (q is not None and q.startswith("torch.") and not q.startswith(SKIPPED_PREFIXES))
    if not device_keyword:
        return
    for keyword in node.keywords:
        if keyword.arg == "device" and not (isinstance(keyword.value, ast.Constant) and method != "to"):
            yield keyword, "keyword", keyword.value  # (a literal elsewhere: PT006's, or PT001's `.cuda(device=0)`)
