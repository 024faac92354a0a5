"""File-level edits a port needs around its site fixes: imports added and removed, the portable
`DEVICE` constant, support definitions, and what the module already binds (`torch` alias).

Pure functions on a libcst Module; `transform.py` calls them after the site transform.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import libcst as cst

from porttool.rewrite.replacements import PORTABLE_DEVICE_NAME, SUPPORT_DEFINITIONS

CUDA_WORDS = re.compile(r"cuda|cudnn|nccl|nvtx", re.IGNORECASE)


def small_statements(statement: cst.CSTNode) -> tuple[cst.BaseSmallStatement, ...]:
    return tuple(statement.body) if isinstance(statement, cst.SimpleStatementLine) else ()


def torch_alias(module: cst.Module) -> str:
    alias = None
    for statement in module.body:
        for small in small_statements(statement):
            if isinstance(small, cst.Import):
                for name in small.names:
                    dotted = cst.helpers.get_full_name_for_node(name.name)
                    if dotted == "torch" and name.asname is None:
                        return "torch"
                    if dotted == "torch" and name.asname is not None and isinstance(name.asname.name, cst.Name):
                        alias = alias or name.asname.name.value
                    if dotted and dotted.startswith("torch.") and name.asname is None:
                        return "torch"  # `import torch.nn` binds `torch` too
    return alias or "torch"


def device_constant(module: cst.Module) -> tuple[str, bool]:
    """The name of the portable device constant, and whether the module already defines it."""
    assigned: dict[str, str] = {}
    for statement in module.body:
        for small in small_statements(statement):
            if isinstance(small, cst.Assign) and len(small.targets) == 1 and isinstance(small.targets[0].target, cst.Name):
                assigned[small.targets[0].target.value] = module.code_for_node(small.value)
    for name in (PORTABLE_DEVICE_NAME, "ACCELERATOR_DEVICE", "PORTTOOL_DEVICE"):
        if name not in assigned:
            return name, False
        if "torch.accelerator.current_accelerator" in assigned[name] or ".accelerator.current_accelerator" in assigned[name]:
            return name, True
    return "PORTTOOL_DEVICE", True


def after_leading_imports(body: Sequence[cst.CSTNode]) -> int:
    index = 0
    for i, stmt in enumerate(body):
        if is_import_like(stmt, i):
            index = i + 1
        else:
            break
    return index


def after_torch_import(body: Sequence[cst.CSTNode]) -> int:
    """Where code that uses `torch` may go: after the leading imports, and after the last
    top-level `import torch...` even when other code comes first (`os.environ[...] = ...`
    before `import torch` is common), and then after the imports right below that one."""
    index = after_leading_imports(body)
    for i, stmt in enumerate(body):
        if i >= index and is_import_like(stmt, i) and "torch" in cst.Module(body=[]).code_for_node(stmt):
            index = i + 1
    # and after the imports that follow it: code goes after the whole block, not between imports
    while index < len(body) and is_import_like(body[index], index):
        index += 1
    return index


def insert_after_imports(module: cst.Module, statement: str) -> cst.Module:
    body = list(module.body)
    body.insert(after_torch_import(body), cst.parse_statement(statement + module.default_newline, config=module.config_for_parsing))
    return module.with_changes(body=body)


def insert_definition(
    module: cst.Module,
    name: str,
    torch_name: str,
    expand: Callable[[cst.BaseStatement], Sequence[cst.BaseStatement]] | None = None,
) -> cst.Module:
    """Insert a SUPPORT_DEFINITIONS helper after the imports (and the DEVICE constant), once.

    `expand` turns a body entry that stands for several statements (apply's skeleton keeps
    statements without sites as text) into those statements; the one after the insertion point
    gets blank lines above it."""
    for statement in module.body:
        if isinstance(statement, (cst.ClassDef, cst.FunctionDef)) and statement.name.value == name:
            return module
    _, code = SUPPORT_DEFINITIONS[name]
    code = code.replace("torch.", f"{torch_name}.").strip("\n").replace("\n", module.default_newline) + module.default_newline
    definition = cst.parse_statement(code, config=module.config_for_parsing)
    blank = cst.EmptyLine(indent=False, whitespace=cst.SimpleWhitespace(""))
    definition = definition.with_changes(leading_lines=[blank, blank])
    body = list(module.body)
    index = after_torch_import(body)
    while index < len(body) and is_device_constant(body[index]):
        index += 1
    after = body[index:]
    if after and expand is not None:
        after[:1] = expand(after[0])  # type: ignore[assignment]
    if after and hasattr(after[0], "leading_lines"):
        blanks = 0
        for line in after[0].leading_lines:  # type: ignore[attr-defined]
            if line.comment is not None:
                break
            blanks += 1
        after[0] = after[0].with_changes(leading_lines=[blank] * max(0, 2 - blanks) + list(after[0].leading_lines))  # type: ignore[attr-defined]
    return module.with_changes(body=[*body[:index], definition, *after])


def is_device_constant(statement: cst.CSTNode) -> bool:
    return isinstance(statement, cst.SimpleStatementLine) and any(
        isinstance(s, cst.Assign) and ".accelerator.current_accelerator" in cst.Module([]).code_for_node(s.value) for s in statement.body
    )


def add_imports(module: cst.Module, imports: Sequence[tuple[str, str | None, str | None]]) -> cst.Module:
    """Add the imports fixes need, once each, right after the module's leading imports.

    Unlike libcst's AddImportsVisitor this keeps the file's own layout (no blank line is added
    between the imports and the code), so the diff shows only the import itself.
    """
    present: set[tuple[str, str | None]] = set()
    for statement in module.body:
        for small in small_statements(statement):
            if isinstance(small, cst.Import):
                for alias in small.names:
                    if alias.asname is None:
                        present.add((cst.helpers.get_full_name_for_node(alias.name) or "", None))
            elif isinstance(small, cst.ImportFrom) and small.module is not None and not isinstance(small.names, cst.ImportStar):
                mod = cst.helpers.get_full_name_for_node(small.module) or ""
                for alias in small.names:
                    if alias.asname is None:
                        present.add((mod, cst.helpers.get_full_name_for_node(alias.name)))
    lines: list[str] = []
    for module_name, obj, asname in imports:
        key = (module_name, obj)
        if key in present:
            continue
        present.add(key)
        text = f"import {module_name}" if obj is None else f"from {module_name} import {obj}"
        lines.append(text + (f" as {asname}" if asname else ""))
    if not lines:
        return module
    body = list(module.body)
    index = after_leading_imports(body)
    new = [cst.parse_statement(line + module.default_newline, config=module.config_for_parsing) for line in lines]
    return module.with_changes(body=[*body[:index], *new, *body[index:]])


def is_import_like(stmt: cst.CSTNode, index: int) -> bool:
    if isinstance(stmt, cst.SimpleStatementLine):
        if all(isinstance(s, (cst.Import, cst.ImportFrom)) for s in stmt.body):
            return True
        if index == 0 and len(stmt.body) == 1 and isinstance(stmt.body[0], cst.Expr) and isinstance(stmt.body[0].value, (cst.SimpleString, cst.ConcatenatedString)):
            return True  # the module docstring
    if isinstance(stmt, cst.Try):
        return all(is_import_like(s, 1) for s in stmt.body.body)  # try: import x / except ImportError
    return False


def names_in(node: cst.CSTNode) -> list[cst.Name]:
    found: list[cst.Name] = []

    class _Collect(cst.CSTVisitor):
        def visit_Name(self, n: cst.Name) -> None:
            found.append(n)

    node.visit(_Collect())
    return found


def cuda_imports(module: cst.Module, touched: set[str] = frozenset()) -> list[tuple[str, str | None, str | None]]:  # type: ignore[assignment]
    """Imports that may have become unused: CUDA-specific ones, and names the replaced code used.

    RemoveImportsVisitor removes each only if nothing uses it any more.
    """
    found: list[tuple[str, str | None, str | None]] = []
    for statement in module.body:
        for small in small_statements(statement):
            if isinstance(small, cst.ImportFrom) and small.module is not None and not isinstance(small.names, cst.ImportStar):
                mod = cst.helpers.get_full_name_for_node(small.module) or ""
                for alias in small.names:
                    name = cst.helpers.get_full_name_for_node(alias.name) or ""
                    asname = alias.asname.name.value if alias.asname and isinstance(alias.asname.name, cst.Name) else None
                    if CUDA_WORDS.search(f"{mod}.{name}") or (asname or name) in touched:
                        found.append((mod, name, asname))
            elif isinstance(small, cst.Import):
                for alias in small.names:
                    name = cst.helpers.get_full_name_for_node(alias.name) or ""
                    if alias.asname is not None and isinstance(alias.asname.name, cst.Name) and CUDA_WORDS.search(name):
                        found.append((name, None, alias.asname.name.value))
    return found


def maybe_unused(
    module: cst.Module,
    imports: list[tuple[str, str | None, str | None]],
    text_of: Callable[[cst.BaseStatement], str] | None = None,
) -> list[tuple[str, str | None, str | None]]:
    """The imports whose bound name is no longer read anywhere as a name (outside imports).

    One plain visitor pass; it spares libcst's scope analysis (the costliest step of a rewrite)
    for the common case where every candidate is still used. What it passes on, the scope
    analysis still decides. With `text_of` (a top-level statement's code), the pass visits only
    the statements whose code contains a candidate name (a name read is a substring of the code).
    """
    if not imports:
        return []
    bound = {asname or obj or m.split(".")[0] for m, obj, asname in imports}
    used = _names_read(module) if text_of is None else _names_read(module, bound, text_of)
    return [(m, obj, asname) for m, obj, asname in imports if (asname or obj or m.split(".")[0]) not in used]


class _NamesRead(cst.CSTVisitor):
    def __init__(self) -> None:
        super().__init__()
        self.found: set[str] = set()

    def visit_Import(self, node: cst.Import) -> bool:
        return False

    def visit_ImportFrom(self, node: cst.ImportFrom) -> bool:
        return False

    def visit_Attribute(self, node: cst.Attribute) -> bool:
        node.value.visit(self)  # `x.attr`: `x` is read, `attr` is not a name
        return False

    def visit_Name(self, node: cst.Name) -> None:
        self.found.add(node.value)


def _names_read(module: cst.Module, only: set[str] | None = None, text_of: Callable[[cst.BaseStatement], str] | None = None) -> set[str]:
    collect = _NamesRead()
    if only is None or text_of is None:
        module.visit(collect)
        return collect.found
    # only whether each name in `only` is read matters: the shortest statements first, and stop
    # once every one is found
    pending = set(only)
    for code, statement in sorted(((text_of(s), s) for s in module.body), key=lambda pair: len(pair[0])):
        if any(name in code for name in pending):
            statement.visit(collect)
            pending -= collect.found
            if not pending:
                break
    return collect.found


def remove_imports(module: cst.Module, unused: list[tuple[str, str | None, str | None]], code: str | None = None) -> cst.Module | None:
    """Remove these top-level imports directly; None when a case needs libcst's scope analysis
    (the name in a string, e.g. `__all__` or an annotation; a comment on the import line).
    `code` is the module's code when the caller has it already."""
    if code is None:
        code = module.code  # (`__all__` lists names as strings: the string test below covers it)
    bound = {(asname or obj or m.split(".")[0]) for m, obj, asname in unused}
    if any(re.search(rf"[\"'][^\"'\n]*\b{re.escape(name)}\b", code) for name in bound):
        return None
    wanted = {(m, obj, asname) for m, obj, asname in unused}
    body: list[cst.BaseStatement] = []
    for statement in module.body:
        small = statement.body[0] if isinstance(statement, cst.SimpleStatementLine) and len(statement.body) == 1 else None
        if not isinstance(small, (cst.Import, cst.ImportFrom)) or isinstance(small.names, cst.ImportStar):
            body.append(statement)
            continue
        kept = [alias for alias in small.names if _import_key(small, alias) not in wanted]
        if len(kept) == len(small.names):
            body.append(statement)
            continue
        assert isinstance(statement, cst.SimpleStatementLine)
        if any(line.comment for line in statement.leading_lines) or statement.trailing_whitespace.comment:
            return None
        if not kept:
            continue
        kept[-1] = kept[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
        body.append(statement.with_changes(body=[small.with_changes(names=kept)]))
    return module.with_changes(body=body)


def _import_key(statement: cst.Import | cst.ImportFrom, alias: cst.ImportAlias) -> tuple[str, str | None, str | None]:
    name = cst.helpers.get_full_name_for_node(alias.name) or ""
    asname = alias.asname.name.value if alias.asname and isinstance(alias.asname.name, cst.Name) else None
    if isinstance(statement, cst.ImportFrom):
        module_name = cst.helpers.get_full_name_for_node(statement.module) if statement.module else ""
        return (module_name or "", name, asname)
    return (name, None, asname)
