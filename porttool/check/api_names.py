"""The dotted `torch.*` names a module uses, for the static stage's "does this API exist" check.

Two passes, cheap first. `import_table_uses` resolves names with the scanner's import table (no
scope analysis: fast, but `config.n_embd` is `torch._inductor.config.n_embd` everywhere once the file
says `import torch._inductor.config as config`). It finds every name that could be a torch API, so
a file in which none of them is missing is done, and so is one where each missing candidate's
first name is bound once in the whole file, by its import (`needs_scope`). Otherwise `scoped_uses`
resolves the names by scope with libcst's QualifiedNameProvider: a parameter, a local, a loop
target, a comprehension variable or a class attribute of the same name shadows the import, and a
name bound both by the import and by something else in one scope is ambiguous (not checked).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from porttool.scan.import_table import ImportTable

# present only with the target's SDK installed, or resolved dynamically by torch
UNCHECKABLE_PREFIXES = ("torch.neuron", "torch.ops", "torch.classes", "torch._C", "torch_xla", "torch_neuronx")


@dataclass(frozen=True)
class ApiUse:
    qualified: str
    line: int
    column: int  # 1-based
    base: str = ""  # the chain's first name as written (`config` in `config.n_embd`)


def _checkable(qualified: str) -> bool:
    return qualified.startswith("torch.") and not qualified.startswith(UNCHECKABLE_PREFIXES)


def import_table_uses(tree: ast.AST) -> list[ApiUse]:
    """Maximal dotted `torch.*` chains read in the module, resolved through its imports alone."""
    imports = ImportTable(tree)
    inner: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            inner.add(id(node.value))
    found: list[ApiUse] = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.Attribute, ast.Name)) and id(node) not in inner and isinstance(node.ctx, ast.Load):
            qualified = imports.qualify(node)
            if qualified is not None and _checkable(qualified):
                base = node
                while isinstance(base, ast.Attribute):
                    base = base.value
                found.append(ApiUse(qualified, node.lineno, node.col_offset + 1, getattr(base, "id", "")))
    return found


def bindings(tree: ast.AST) -> dict[str, int]:
    """How many times each name is bound in the module, in any scope (an import of the same
    thing under the same name, such as `import torch` and `import torch.nn`, counts once)."""
    counts: dict[str, int] = {}
    imported: set[tuple[str, str]] = set()

    def bind(name: str | None) -> None:
        if name:
            counts[name] = counts.get(name, 0) + 1

    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            bind(node.id)
        elif isinstance(node, ast.arg):
            bind(node.arg)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bind(node.name)
        elif isinstance(node, ast.ExceptHandler):
            bind(node.name)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                what = alias.name if alias.asname else alias.name.split(".", 1)[0]
                imported.add((alias.asname or what, what))
        elif isinstance(node, ast.ImportFrom):
            for alias in node.names:
                imported.add((alias.asname or alias.name, f"{'.' * node.level}{node.module or ''}.{alias.name}"))
        elif isinstance(node, (ast.MatchAs, ast.MatchStar)):
            bind(node.name)
        elif isinstance(node, ast.MatchMapping):
            bind(node.rest)
    for name, _ in imported:
        bind(name)
    return counts


def needs_scope(tree: ast.AST, uses: list[ApiUse]) -> bool:
    """False when every use's first name is bound once in the whole file (by its import): then
    scope analysis cannot resolve it otherwise, and libcst's cost (seconds on a large file) is saved."""
    counts = bindings(tree)
    return any(counts.get(use.base, 0) != 1 for use in uses)


def scoped_uses(source: str) -> list[ApiUse]:
    """The same chains, resolved by scope (libcst); raises libcst's ParserSyntaxError if it cannot parse."""
    import libcst as cst
    from libcst.metadata import (
        ExpressionContext,
        ExpressionContextProvider,
        MetadataWrapper,
        PositionProvider,
        QualifiedNameProvider,
        QualifiedNameSource,
    )

    found: list[ApiUse] = []

    def _dotted(node: cst.BaseExpression) -> bool:  # `a.b.c`, not `a(...).b` (libcst names both a.b)
        while isinstance(node, cst.Attribute):
            node = node.value
        return isinstance(node, cst.Name)

    class Uses(cst.CSTVisitor):
        METADATA_DEPENDENCIES = (QualifiedNameProvider, PositionProvider, ExpressionContextProvider)

        def __init__(self) -> None:
            super().__init__()
            self.inner: set[int] = set()

        def visit_Import(self, node: cst.Import) -> bool:
            return False  # the names an import statement spells are not uses

        def visit_ImportFrom(self, node: cst.ImportFrom) -> bool:
            return False

        def visit_Attribute(self, node: cst.Attribute) -> None:
            self.inner.add(id(node.value))
            self.inner.add(id(node.attr))
            self._use(node)

        def visit_Name(self, node: cst.Name) -> None:
            self._use(node)

        def _use(self, node: cst.Attribute | cst.Name) -> None:
            if id(node) in self.inner or not _dotted(node):
                return
            if self.get_metadata(ExpressionContextProvider, node, None) is not ExpressionContext.LOAD:
                return
            names = self.get_metadata(QualifiedNameProvider, node, set())
            if len(names) != 1:
                return  # unresolved, or bound more than one way in its scope
            (name,) = names
            if name.source is QualifiedNameSource.IMPORT and _checkable(name.name):
                start = self.get_metadata(PositionProvider, node).start
                found.append(ApiUse(name.name, start.line, start.column + 1))

    MetadataWrapper(cst.parse_module(source), unsafe_skip_copy=True).visit(Uses())
    return found
