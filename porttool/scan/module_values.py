"""A CUDA module held in a variable (`m = torch.cuda`, `self.mod = getattr(torch, t, torch.cuda)`,
`m = torch.cuda if gpu else torch.cpu`) and the attributes used through it (`m.synchronize()`):
nothing on that line spells CUDA, so only the binding says what the call is.

Bindings are found during the scan's walk; their uses afterwards, in the binding's own scope (the
function, or the class for `self.<name>`, or the module), by a walk of that scope alone: a file
binds a CUDA module to a variable rarely, so this costs nothing elsewhere, and it never depends on
which statements the line prefilter let the main walk skip.
"""

from __future__ import annotations

import ast
from collections.abc import Collection, Iterator

from porttool.scan.import_table import ImportTable


def bound_module(value: ast.AST, imports: ImportTable, modules: Collection[str]) -> str | None:
    """The module `value` evaluates to, when it is one of `modules`: the module spelled out, the
    default of `getattr(obj, name, <module>)`, either branch of `a if c else b`."""
    if isinstance(value, (ast.Name, ast.Attribute)):
        q = imports.qualify(value)
        return q if q in modules else None
    if isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id == "getattr" and len(value.args) == 3:
        return bound_module(value.args[2], imports, modules)
    if isinstance(value, ast.IfExp):
        return bound_module(value.body, imports, modules) or bound_module(value.orelse, imports, modules)
    return None


def target_key(node: ast.AST) -> str | None:
    """`m` or `self.m`: the binding targets (and receivers) followed."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
        return f"{node.value.id}.{node.attr}"
    return None


def uses(scope: ast.AST, key: str) -> Iterator[ast.Attribute]:
    """Every `<key>.<attr>` in `scope` (loads and stores alike: `m.benchmark = True` too)."""
    for node in ast.walk(scope):
        if isinstance(node, ast.Attribute) and target_key(node.value) == key:
            yield node


def replacement(replacements: dict[str, str], attr: str) -> str:
    """The rule's device-generic spelling for `<module>.<attr>` (its `*` entry for the others)."""
    found = replacements.get(attr, replacements.get("*", ""))
    return found.replace("{attr}", attr)
