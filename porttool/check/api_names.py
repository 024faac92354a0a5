"""The dotted `torch.*` names a module uses, for the static stage's "does this API exist" check.

Two passes, cheap first. `import_table_uses` resolves names with the scanner's import table (no
scope analysis: fast, but `config.n_embd` is `torch._inductor.config.n_embd` everywhere once the file
says `import torch._inductor.config as config`). It finds every name that could be a torch API, so
a file in which none of them is missing is done. Only for a file with a missing candidate does
`scoped_uses` resolve the names by scope with libcst's QualifiedNameProvider: a parameter, a local,
a loop target, a comprehension variable or a class attribute of the same name shadows the import,
and a name bound both by the import and by something else in one scope is ambiguous (not checked).
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


def _checkable(qualified: str | None) -> bool:
    return bool(qualified) and qualified.startswith("torch.") and not qualified.startswith(UNCHECKABLE_PREFIXES)  # type: ignore[union-attr]


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
            if _checkable(qualified):
                found.append(ApiUse(qualified, node.lineno, node.col_offset + 1))  # type: ignore[arg-type]
    return found


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
