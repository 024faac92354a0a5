"""Names a file gives a literal default (`def f(pin=True)`, `parser.set_defaults(pin_mem=True)`,
`add_argument("--pin-mem", default=True)`, `add_argument("--no-pin", action="store_false",
dest="pin")`, `PIN_MEMORY = True`, a dataclass field `pin_memory: bool = True`): what an argument
rule's `variable_default` compares a variable's last name with (`pin_memory=args.pin_mem`).

Names only, across the whole file (no scopes, no data flow): computed once per file, and only
when a matched call passes a variable, which is rare.
"""

from __future__ import annotations

import ast
from collections import defaultdict


def literal_defaults(tree: ast.AST) -> dict[str, list[object]]:
    """name → every literal the file gives it as a default or initial value."""
    found: dict[str, list[object]] = defaultdict(list)
    for node in ast.walk(tree):
        if isinstance(node, ast.arguments):
            positional = [*node.posonlyargs, *node.args]
            for arg, default in zip(positional[len(positional) - len(node.defaults) :], node.defaults):
                _note(found, arg.arg, default)
            for arg, default in zip(node.kwonlyargs, node.kw_defaults):
                if default is not None:
                    _note(found, arg.arg, default)
        elif isinstance(node, ast.Call):
            _argparse(found, node)
        elif isinstance(node, ast.Assign) and len(node.targets) == 1:
            _note(found, _last_name(node.targets[0]), node.value)
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            _note(found, _last_name(node.target), node.value)
    return found


def _argparse(found: dict[str, list[object]], call: ast.Call) -> None:
    func = call.func
    if not isinstance(func, ast.Attribute):
        return
    keywords = {kw.arg: kw.value for kw in call.keywords if kw.arg}
    if func.attr == "set_defaults":
        for name, value in keywords.items():
            _note(found, name, value)
    elif func.attr == "add_argument":
        dest = _dest(call, keywords)
        if dest is None:
            return
        if "default" in keywords:
            _note(found, dest, keywords["default"])
        action = keywords.get("action")
        if isinstance(action, ast.Constant) and action.value == "store_false" and "default" not in keywords:
            found[dest].append(True)


def _dest(call: ast.Call, keywords: dict[str | None, ast.expr]) -> str | None:
    dest = keywords.get("dest")
    if isinstance(dest, ast.Constant) and isinstance(dest.value, str):
        return dest.value
    options = [a.value for a in call.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
    long = [o for o in options if o.startswith("--")] or options
    return long[0].lstrip("-").replace("-", "_") if long else None


def _note(found: dict[str, list[object]], name: str | None, value: ast.AST) -> None:
    if name and isinstance(value, ast.Constant):
        found[name].append(value.value)


def _last_name(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None
