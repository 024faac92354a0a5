"""Find CUDA-specific sites in one Python source: one `ast` pass for all rules.

The scan path never touches libcst: `ast` locates every site (with exact positions) and a small
import table resolves aliases. libcst is used only later, to rewrite the files that change.
Scanning never mutates anything and never imports or runs the code it reads.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Sequence
from typing import Any

from porttool.model import Rule, Site, Span
from porttool.scan.capability_gates import capability_gates
from porttool.scan.device_chains import device_list, if_chain, ifexp_chain, return_chain, return_runs
from porttool.scan.device_strings import device_string_value, idiom_device_text
from porttool.scan.dispatch import (
    MENTIONS_OTHER_BACKEND,
    OTHER_BACKEND_PREFIXES,
    OTHER_BACKEND_WORDS,
    chain_tests,
    device_type_dispatch_ifs,
    ifexp_tests,
)
from porttool.scan.import_table import ImportTable, holds_line
from porttool.scan import module_values
from porttool.scan.defaults import literal_defaults
from porttool.scan.rule_index import CompiledRules, relevant_lines

OPTION_STRING = re.compile(r"^--?[A-Za-z][\w-]*$")  # a command-line option name like --no-cuda
DEVICE_KEYWORDS = {"device": "device", "map_location": "map_location", "device_type": "device_type"}
DEVICE_TYPE_CALLS = {
    "torch.autocast",
    "torch.amp.autocast",
    "torch.amp.GradScaler",
    "torch.get_device_module",
    "torch.cpu.amp.autocast",
}
ENVIRON_FUNCS = {"os.getenv", "os.putenv", "os.environ.get", "os.environ.setdefault", "os.environ.pop", "os.unsetenv"}


def _match_name(q: str, exact: dict[str, list[Rule]], prefixes: list[tuple[str, Rule]]) -> list[Rule]:
    found = list(exact.get(q, ()))
    found += [rule for prefix, rule in prefixes if q.startswith(prefix)]
    return found


class _Scanner:
    def __init__(self, source: str, tree: ast.Module, rules: CompiledRules, *, prune: bool = True) -> None:
        self.rules = rules
        self.imports = ImportTable(tree, source)
        # Statements holding none of these lines are skipped whole: most of a large file.
        self.relevant = relevant_lines(source, rules, self.imports) if prune else None
        self.source = source
        self._lines: list[str] | None = None  # split only when a site needs a column
        self.sites: list[Site] = []
        self.fallbacks: list[Site] = []
        self.weak: list[Site] = []  # identifier sites: only on lines nothing else reports
        self.handled: set[int] = set()  # ids of string nodes already classified
        self.loop_depth = 0
        self.in_dispatch = False
        self.identifier_lines: set[int] = set()
        self.callees: set[int] = set()
        self.branches: dict[int, tuple[int, int, int, int]] = {}  # id of a guard in an if's test → its CUDA branch
        self.rest_after_exit: dict[int, list[ast.stmt]] = {}  # id of an `if ...: return` → the statements after it
        self.tree = tree
        self._switch_words: dict[str, bool] = {}  # name → spells an identifier rule's word (memo)
        # imported names (not torch's) a `definitions` identifier rule may match: their uses are sites too
        self.imported_definitions = {
            local for local, qualified in self.imports.aliases.items()
            if not qualified.startswith("torch.") and any(word in local.lower() for _, word, _ in rules.definitions)
        } if rules.definitions else set()
        self._defaults: dict[str, list[object]] | None = None  # (scan/defaults.py, computed on first need)
        self.scopes: list[ast.AST] = [tree]  # the module, then each enclosing function or class
        self.bindings: list[tuple[Rule, str, str, ast.AST]] = []  # (rule, `m` / `self.m`, module, scope)
        self.assert_tests: dict[int, ast.Assert] = {}  # id of a call that is an assert's whole test → the assert
        self.may_dispatch = any(word in source for word in OTHER_BACKEND_WORDS)  # see _is_dispatch
        forms: dict[str, list[Rule]] = {}
        for rule in rules.idioms:
            forms.setdefault(rule.match.get("form", "idiom"), []).append(rule)
        self.idiom_rules, self.chain_rules, self.choice_rules = forms.get("idiom", []), forms.get("chain", []), forms.get("choices", [])
        self.chain_inner: set[int] = set()  # ids of the links inside a chain (not chains of their own)
        self.gates = capability_gates(tree, self.imports, source)  # id of a test's node → the CUDA-only feature it gates
        self.dispatch_ifs = device_type_dispatch_ifs(tree, self.holds_relevant_line) if MENTIONS_OTHER_BACKEND.search(source) else set()

    def holds_relevant_line(self, node: ast.stmt) -> bool:
        """Can this statement (decorators included) hold a site? False only when no line of it can."""
        return self.relevant is None or holds_line(self.relevant, node)

    # positions -------------------------------------------------------------------------------
    @property
    def lines(self) -> list[str]:
        if self._lines is None:
            self._lines = re.split(r"\r\n|\r|\n", self.source)
        return self._lines

    def _col(self, line: int, byte_col: int) -> int:
        text = self.lines[line - 1] if 0 < line <= len(self.lines) else ""
        if text.isascii():
            return byte_col
        return len(text.encode("utf-8")[:byte_col].decode("utf-8", errors="replace"))

    def span(self, node: ast.AST) -> Span:
        line, end_line = node.lineno, node.end_lineno or node.lineno  # type: ignore[attr-defined]
        return Span(
            line,
            self._col(line, node.col_offset),  # type: ignore[attr-defined]
            end_line,
            self._col(end_line, node.end_col_offset or 0),  # type: ignore[attr-defined]
        )

    def add(self, rule: Rule, node: ast.AST, *, name: str = "", value: str = "", claim: ast.AST | None = None) -> None:
        site = Site(
            code=rule.code,
            span=self.span(node),
            node_type=node.node_type if isinstance(node, _ArgMarker) else node.kind if isinstance(node, _NameMarker) else type(node).__name__,
            name=name,
            value=value,
            in_dispatch=self.in_dispatch,
            claim=self.span(claim) if claim is not None else None,
            gate=self.gates.get(id(node), "") if self.gates else "",
            branch=self.branches.get(id(node)),
        )
        if rule.match.get("fallback"):
            self.fallbacks.append(site)
        elif rule.match["kind"] in ("identifier", "string"):
            self.weak.append(site)
        else:
            self.sites.append(site)

    # traversal -------------------------------------------------------------------------------
    # The walk is the scan's hot loop (millions of nodes on a large tree): dispatch through a
    # per-class table and read child fields directly instead of `ast.iter_child_nodes`.
    def visit(self, node: ast.AST) -> None:
        cls = type(node)
        if cls in _STATEMENT_TYPES and not self.holds_relevant_line(node):  # type: ignore[arg-type]
            return
        method = _VISITORS.get(cls, _MISSING)
        if method is _MISSING:
            method = _VISITORS[cls] = getattr(_Scanner, f"visit_{cls.__name__}", None)
        if method is not None:
            method(self, node)
        else:
            self.generic_visit(node)

    def generic_visit(self, node: ast.AST) -> None:
        for name in node._fields:
            value = getattr(node, name, None)
            if isinstance(value, list):
                for item in value:
                    if isinstance(item, ast.AST):
                        self.visit(item)
            elif isinstance(value, ast.AST):
                self.visit(value)

    def visit_Module(self, node: ast.Module) -> None:
        self._note_early_exits(node.body)
        self.generic_visit(node)

    def _note_return_chains(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        """`if cuda: return "cuda"` / `if mps: return "mps"` / `return "cpu"` runs in a function body:
        their links dispatch per backend, and a run that never reaches the target is a chain site."""
        if not self.chain_rules or self.in_dispatch:
            return
        for run in return_runs(node.body, self.imports):
            self.dispatch_ifs.update(map(id, run))  # its links dispatch per backend
        for i, statement in enumerate(node.body):
            if isinstance(statement, ast.If) and self.holds_relevant_line(statement):
                found = return_chain(node.body, i, self.imports)
                if found is not None and found[0].lacks_target:
                    for rule in self.chain_rules:
                        self.add(rule, statement, value=",".join(found[0].backends))

    def visit_Assert(self, node: ast.Assert) -> None:
        if isinstance(node.test, ast.Call):
            self.assert_tests[id(node.test)] = node
        self.generic_visit(node)

    def visit_Expr(self, node: ast.Expr) -> None:
        if isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            return  # a docstring or a bare string statement: never code
        self.generic_visit(node)

    def _loop(self, outside: Iterable[ast.AST], inside: Iterable[ast.AST]) -> None:
        for child in outside:
            self.visit(child)
        self.loop_depth += 1
        try:
            for child in inside:
                self.visit(child)
        finally:
            self.loop_depth -= 1

    def visit_For(self, node: ast.For) -> None:
        self._loop([node.target, node.iter], [*node.body, *node.orelse])

    visit_AsyncFor = visit_For  # type: ignore[assignment]

    def visit_While(self, node: ast.While) -> None:
        self._loop([], [node.test, *node.body, *node.orelse])

    def _comprehension(self, node: ast.AST, elts: list[ast.AST]) -> None:
        gens: list[ast.comprehension] = node.generators  # type: ignore[attr-defined]
        self._loop([gens[0].iter], [g for gen in gens for g in (gen.target, *gen.ifs)] + [gen.iter for gen in gens[1:]] + elts)

    def visit_ListComp(self, node: ast.ListComp) -> None:
        self._comprehension(node, [node.elt])

    visit_SetComp = visit_ListComp  # type: ignore[assignment]
    visit_GeneratorExp = visit_ListComp  # type: ignore[assignment]

    def visit_DictComp(self, node: ast.DictComp) -> None:
        self._comprehension(node, [node.key, node.value])

    def _note_branch(self, node: ast.If | ast.IfExp) -> None:
        """Remember which code runs on CUDA for each guard in an `if`'s test (`guarded_branches`).

        A guard is a test `x == "cuda"`, `torch.cuda.is_available()`, `device_count() > 1`, ...
        (under `not`, `and`, `or`); its CUDA branch is the body, or the `else` for a negated guard
        (`!=`, `not`, `== 0`), plus what an `and` evaluates after it and, for an `if` that exits
        early (`if not ...: return`), the rest of its block. Where the sense is unknown
        (`is_available() == flag`), both branches."""
        body = node.body if isinstance(node.body, list) else [node.body]
        orelse = node.orelse if isinstance(node.orelse, list) else [node.orelse]
        if not body:
            return
        rest = self.rest_after_exit.get(id(node))
        for guard, sense, tail in _guards(node.test, True, None):
            if sense is None:
                parts = [*body, *orelse]
            elif sense:
                parts = list(body)
            elif orelse:
                parts = list(orelse)
            elif rest is not None:
                parts = rest
            else:
                continue
            first = tail if tail is not None else parts[0]
            start, end = self.span(first), self.span(parts[-1])
            self.branches[id(guard)] = (start.line, start.column, end.end_line, end.end_column)

    def visit_BoolOp(self, node: ast.BoolOp) -> None:
        """`torch.cuda.is_available() and torch.cuda.get_device_capability()[0] >= 8` (or `not ...
        or ...`) anywhere: what comes after a guard is evaluated only on CUDA (an `if` test's own
        guards were noted with their branch first)."""
        taken = isinstance(node.op, ast.And)
        end = self.span(node.values[-1])
        for i, value in enumerate(node.values[:-1]):
            start = self.span(node.values[i + 1])
            for guard, sense, _ in _guards(value, True, None):
                if sense is None or sense == taken:
                    self.branches.setdefault(id(guard), (start.line, start.column, end.end_line, end.end_column))
        self.generic_visit(node)

    def _note_early_exits(self, statements: list[ast.stmt]) -> None:
        """`if <guard>: return` (raise, continue, break, sys.exit()) with no else: the statements
        after it run only when the guard is false (the CUDA branch of `if not cuda_ok: return`)."""
        for i, statement in enumerate(statements[:-1]):
            if isinstance(statement, ast.If) and not statement.orelse and _exits(statement.body[-1]):
                self.rest_after_exit[id(statement)] = statements[i + 1 :]

    def visit_If(self, node: ast.If) -> None:
        self._note_branch(node)
        if self.chain_rules and not self.in_dispatch and id(node) not in self.chain_inner:
            chain, inner = if_chain(node, self.imports, lambda: _statement_before(self.tree, node))
            self.chain_inner.update(map(id, inner))
            if chain is not None and chain.lacks_target:
                for rule in self.chain_rules:
                    self.add(rule, node, value=",".join(chain.backends))
        if self.in_dispatch or (id(node) not in self.dispatch_ifs and not self._is_dispatch([t for t in chain_tests(node)])):
            self.generic_visit(node)
            return
        self.in_dispatch = True
        try:
            self.generic_visit(node)
        finally:
            self.in_dispatch = False

    def _is_dispatch(self, tests: list[ast.AST]) -> bool:
        if not self.may_dispatch:
            return False  # no other backend's module is spelled anywhere in the file
        nodes = [n for t in tests for n in ast.walk(t) if isinstance(n, (ast.Attribute, ast.Name))]
        aliases = self.imports.aliases
        if not any(isinstance(n, ast.Name) and n.id in aliases for n in nodes):
            return False  # no name in the tests comes from an import: nothing to qualify (the common case)
        names = [self.imports.qualify(n) or "" for n in nodes]
        cuda = any(n.startswith("torch.cuda") for n in names)
        other = any(n.startswith(OTHER_BACKEND_PREFIXES) for n in names)
        return cuda and other

    def visit_IfExp(self, node: ast.IfExp) -> None:
        self._note_branch(node)
        if self.chain_rules and not self.in_dispatch and id(node) not in self.chain_inner:
            chain, inner = ifexp_chain(node, self.imports)
            self.chain_inner.update(map(id, inner))
            if chain is not None and chain.lacks_target:
                for rule in self.chain_rules:
                    self.add(rule, node, value=",".join(chain.backends))
        if not self.in_dispatch and self._is_dispatch(list(ifexp_tests(node))):
            self.in_dispatch = True
            try:
                self.generic_visit(node)
            finally:
                self.in_dispatch = False
            return
        if self.idiom_rules and self._is_idiom(node):
            cuda_branch = node.orelse if isinstance(node.test, ast.UnaryOp) else node.body
            branch = self.span(cuda_branch)
            self.branches[id(node)] = (branch.line, branch.column, branch.end_line, branch.end_column)
            for rule in self.idiom_rules:
                self.add(rule, node, value="cuda")
            # the idiom is one site: its strings are not reported again, but what computes an
            # index (`f"cuda:{torch.cuda.current_device()}"`) runs on the new device after the port
            for part in _index_parts(cuda_branch, self.imports):
                self.visit(part)
            return
        self.generic_visit(node)

    def _is_idiom(self, node: ast.IfExp) -> bool:
        test = node.test
        if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
            test, body, orelse = test.operand, node.orelse, node.body
        else:
            body, orelse = node.body, node.orelse
        if not (isinstance(test, ast.Call) and self.imports.qualify(test.func) == "torch.cuda.is_available"):
            return False
        return idiom_device_text(body, self.imports) is not None and idiom_device_text(orelse, self.imports) == "cpu"

    def visit_FunctionDef(self, node: ast.AST) -> None:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            self._note_early_exits(node.body)
            self._note_return_chains(node)
        if self.rules.definitions:
            self._definition(node, node.name)  # type: ignore[attr-defined]
        if not self.rules.module_variables:
            self.generic_visit(node)
            return
        self.scopes.append(node)
        try:
            self.generic_visit(node)
        finally:
            self.scopes.pop()

    visit_AsyncFunctionDef = visit_FunctionDef
    visit_ClassDef = visit_FunctionDef

    # module values held in variables (scan/module_values.py) -----------------------------------
    def _bind_module(self, node: ast.Assign) -> None:
        for rule in self.rules.module_variables:
            module = module_values.bound_module(node.value, self.imports, rule.match["names"])
            if module is None:
                continue
            for target in node.targets:
                key = module_values.target_key(target)
                if key is None:
                    continue
                scope = self.scopes[-1]
                if isinstance(target, ast.Attribute):  # `self.m = ...`: used across the class's methods
                    scope = next((s for s in reversed(self.scopes) if isinstance(s, ast.ClassDef)), scope)
                self.bindings.append((rule, key, module, scope))

    def _module_value_use(self, node: ast.Attribute, rule: Rule, module: str) -> None:
        value = module_values.replacement(rule.match.get("replacements", {}), node.attr)
        self.add(rule, node, name=f"{module}.{node.attr}", value=value)

    def report_module_variable_uses(self) -> None:
        """After the walk: every `m.<attr>` in the scope of a binding `m = <CUDA module>`."""
        seen: set[tuple[str, int]] = set()
        for rule, key, module, scope in self.bindings:
            for use in module_values.uses(scope, key):
                if (rule.code, id(use)) not in seen:
                    seen.add((rule.code, id(use)))
                    self._module_value_use(use, rule, module)

    # assignments -----------------------------------------------------------------------------
    def _assign(self, node: ast.AST, targets: Sequence[ast.AST]) -> None:
        for target in targets:
            q = self.imports.qualify(target)
            if q:
                for rule in _match_name(q, self.rules.assigns, self.rules.assign_prefixes):
                    self.add(rule, node, name=q, claim=target)
        self.generic_visit(node)

    def visit_Assign(self, node: ast.Assign) -> None:
        if self.rules.module_variables:
            self._bind_module(node)
        self._assign(node, node.targets)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self._assign(node, [node.target])

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        self._assign(node, [node.target])

    # imports ---------------------------------------------------------------------------------
    def _import_rules(self, module: str) -> list[Rule]:
        return [rule for name, rule in self.rules.imports if module == name or module.startswith(name + ".")]

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            for rule in self._import_rules(alias.name):
                self.add(rule, node, name=alias.name)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.module and node.level == 0:
            for rule in self._import_rules(node.module):
                self.add(rule, node, name=node.module)
        if self.rules.definitions and not (node.level == 0 and (node.module or "").split(".")[0] == "torch"):
            for alias in node.names:
                self._definition(alias, alias.asname or alias.name)

    # names a file defines or imports (an `identifier` rule with `positions = ["definitions"]`) ----
    def _definition(self, node: ast.AST, name: str) -> None:
        """`def require_cuda`, `class CudaTimer`, `from .utils import is_cuda_available` and the uses
        of such an imported name: one site per line at most, on the name itself."""
        lowered = name.lower()
        for pattern, word, rule in self.rules.definitions:
            if word in lowered and pattern.search(name):
                self.add(rule, _NameMarker(node, name, self.lines) if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) else node, name=name)
                return

    # names -----------------------------------------------------------------------------------
    def _reference(self, node: ast.AST) -> None:
        q = self.imports.qualify(node)
        if q:
            for rule in _match_name(q, self.rules.references, self.rules.reference_prefixes):
                self.add(rule, node, name=q, claim=node)

    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Load):
            self._reference(node)
            if node.id in self.imported_definitions:
                self._definition(node, node.id)
        if self.rules.identifiers and node.id not in self.imports.aliases:
            self._identifier(node, node.id)

    def _named_for_cuda(self, name: str) -> bool:
        found = self._switch_words.get(name)
        if found is None:
            lowered = name.lower()
            found = self._switch_words[name] = any(word in lowered for word in self.rules.identifier_words)
        return found

    def _identifier(self, node: ast.AST, name: str) -> None:
        """A CUDA-named switch (`use_cuda`, `args.cuda`, `--no-cuda`): one site per line at most."""
        line = getattr(node, "lineno", 0)
        if line in self.identifier_lines:
            return
        lowered = name.lower()
        if not any(word in lowered for word in self.rules.identifier_words):
            return  # (the prefilter's assumption too: an identifier rule's longest word is in every match)
        for pattern, rule in self.rules.identifiers:
            if pattern.search(name):
                self.identifier_lines.add(line)
                self.add(rule, node, name=name)
                return

    def visit_arg(self, node: ast.arg) -> None:
        if self.rules.identifiers:
            self._identifier(node, node.arg)
        self.generic_visit(node)

    def visit_keyword(self, node: ast.keyword) -> None:
        if self.rules.identifiers and node.arg:
            self._identifier(node, node.arg)
        self.generic_visit(node)

    def visit_Attribute(self, node: ast.Attribute, maximal: bool = True) -> None:
        if maximal and isinstance(node.ctx, ast.Load):
            self._reference(node)
        if self.rules.identifiers and id(node) not in self.callees and not self.imports.is_module_path(node):
            self._identifier(node, node.attr)
        if node.attr in self.rules.attributes and not self.imports.is_module_path(node.value):
            for rule in self.rules.attributes[node.attr]:
                self._method_site(rule, node, node)
        # the inner part of a dotted chain is not a maximal chain of its own
        inner = node.value
        if self.rules.module_variables and isinstance(inner, (ast.Call, ast.IfExp)):
            for rule in self.rules.module_variables:
                module = module_values.bound_module(inner, self.imports, rule.match["names"])
                if module is not None:
                    self._module_value_use(node, rule, module)
        if isinstance(inner, ast.Attribute):
            self.visit_Attribute(inner, maximal=False)
        elif not isinstance(inner, ast.Name):
            self.visit(inner)
        elif self.rules.identifiers and (self._switch_words.get(inner.id) or (inner.id not in self._switch_words and self._named_for_cuda(inner.id))) and inner.id not in self.imports.aliases:
            self._identifier(inner, inner.id)  # the chain's base: `ious_cuda.cpu()`, `cuda_kwargs.update(...)`

    def _method_site(self, rule: Rule, node: ast.AST, site_node: ast.AST) -> None:
        m = rule.match
        if m.get("inside") == "loop" and self.loop_depth == 0:
            return
        if "arg_count" in m and isinstance(node, ast.Call) and len(node.args) + len(node.keywords) != m["arg_count"]:
            return
        self.add(rule, site_node, name=getattr(getattr(node, "func", node), "attr", ""))

    # strings ---------------------------------------------------------------------------------
    def _device_string(self, node: ast.AST, position: str) -> bool:
        value = device_string_value(node)
        if value is None:
            return False
        self.handled.add(id(node))
        for sub in ast.walk(node):
            self.handled.add(id(sub))
        for rule in self.rules.device_strings.get(position, ()):
            self.add(rule, node, value=value)
        return True

    def visit_Constant(self, node: ast.Constant) -> None:
        if id(node) not in self.handled:
            value = node.value
            if type(value) is str and self.rules.special_string is not None and self.rules.special_string.search(value):
                # (one search for every environ and string-pattern trigger: most strings hold none)
                if self.rules.environs and self._environ_name(node):
                    return
                if self.rules.string_patterns and self._string_pattern(node):
                    return
            if isinstance(value, str) and value in self.rules.strings:
                for rule in self.rules.strings[value]:
                    self.add(rule, node, value=value)
            elif not self._device_string(node, "ambiguous") and self.rules.identifiers and isinstance(node.value, str) and OPTION_STRING.match(node.value):
                self._identifier(node, node.value)

    def _string_pattern(self, node: ast.Constant) -> bool:
        """A string whose whole text a `string` rule's pattern matches (`"torch.cuda.set_device"`)."""
        text = node.value
        found = False
        for pattern, triggers, rule in self.rules.string_patterns:
            if any(t in text for t in triggers) and pattern.fullmatch(text):
                self.add(rule, node, value=text)
                found = True
        return found

    def visit_JoinedStr(self, node: ast.JoinedStr) -> None:
        if id(node) not in self.handled and self._device_string(node, "ambiguous"):
            return
        self.generic_visit(node)

    def visit_BinOp(self, node: ast.BinOp) -> None:
        if id(node) not in self.handled and self._device_string(node, "ambiguous"):
            return
        self.generic_visit(node)

    def visit_Subscript(self, node: ast.Subscript) -> None:
        if self.rules.environs and self.imports.qualify(node.value) == "os.environ":
            self._environ_key(node.slice)
        self.generic_visit(node)

    def _device_list(self, node: ast.AST) -> None:
        """`["cuda", "mps", "cpu"]` checked against: one site; its strings are not reported again."""
        kind = device_list(node)
        if kind is not None:
            for element in node.elts:  # type: ignore[attr-defined]
                self.handled.add(id(element))
        if kind == "lacks":
            elements = node.elts  # type: ignore[attr-defined]
            where = _TupleMarker(elements[0], elements[-1]) if isinstance(node, ast.Tuple) else node
            for rule in self.choice_rules:
                self.add(rule, where, value="cuda")

    def visit_Compare(self, node: ast.Compare) -> None:
        if self.choice_rules and len(node.ops) == 1 and isinstance(node.ops[0], (ast.In, ast.NotIn)):
            self._device_list(node.comparators[0])
        if self.rules.environs and any(isinstance(op, (ast.In, ast.NotIn)) for op in node.ops):
            if any(self.imports.qualify(c) == "os.environ" for c in node.comparators):
                self._environ_key(node.left)
        if self.rules.device_strings.get("compared"):
            self._device_type_comparison(node)
        self.generic_visit(node)

    def _device_type_comparison(self, node: ast.Compare) -> None:
        """`x == "cuda"`, `"cuda" != x`, `"cuda" in device`: the site is the whole comparison."""
        if len(node.ops) != 1:
            return
        op, left, right = node.ops[0], node.left, node.comparators[0]
        sides = [left, right] if isinstance(op, (ast.Eq, ast.NotEq)) else [left] if isinstance(op, (ast.In, ast.NotIn)) else []
        for side in sides:
            if isinstance(side, ast.Constant) and side.value == "cuda":
                self.handled.add(id(side))
                for rule in self.rules.device_strings["compared"]:
                    self.add(rule, node, value="cuda")
                return

    def _environ_name(self, node: ast.Constant) -> bool:
        """A string that is exactly a CUDA environment variable's name, wherever it sits: a key of
        any mapping (`env["CUDA_VISIBLE_DEVICES"]` on a copy of `os.environ`, a `{...}` literal
        passed to `subprocess` or `mock.patch.dict`), `monkeypatch.setenv(...)`, a tuple of names."""
        text = node.value
        if not any(trigger in text for trigger in self.rules.environ_triggers):
            return False
        found = False
        for pattern, rule in self.rules.environs:
            if pattern.fullmatch(text):
                self.handled.add(id(node))
                self.add(rule, node, value=text)
                found = True
        return found

    def _environ_key(self, key: ast.AST) -> None:
        if isinstance(key, ast.Constant) and isinstance(key.value, str):
            for pattern, rule in self.rules.environs:
                if pattern.fullmatch(key.value) or pattern.match(key.value):
                    self.handled.add(id(key))
                    self.add(rule, key, value=key.value)

    # calls -----------------------------------------------------------------------------------
    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        if self.choice_rules:
            for kw in node.keywords:
                if kw.arg == "choices":
                    self._device_list(kw.value)
        self.callees.add(id(func))  # a method name is not a switch name
        q = self.imports.qualify(func)
        if q:
            for rule in _match_name(q, self.rules.calls, self.rules.call_prefixes):
                m = rule.match
                if "arg_count" in m and len(node.args) + len(node.keywords) != m["arg_count"]:
                    continue
                if m.get("inside") == "assert":
                    statement = self.assert_tests.get(id(node))
                    if statement is not None:
                        self.add(rule, statement, name=q)
                    continue
                self.add(rule, node, name=q, claim=func)
            for rule in self.rules.arguments.get(q, ()):
                self._argument(rule, node, q)
            if q in ENVIRON_FUNCS and node.args and self.rules.environs:
                self._environ_key(node.args[0])
            if q == "importlib.import_module" and node.args and isinstance(node.args[0], ast.Constant):
                module = node.args[0].value
                if isinstance(module, str):
                    for rule in self._import_rules(module):
                        self.add(rule, node, name=module)
        if isinstance(func, ast.Attribute) and func.attr in self.rules.methods and not self.imports.is_module_path(func.value):
            for rule in self.rules.methods[func.attr]:
                self._method_site(rule, node, node)
        if self.rules.dict_entries and isinstance(func, ast.Name) and func.id == "dict" and func.id not in self.imports.aliases:
            for kw in node.keywords:
                if kw.arg:
                    self._dict_entry(kw.arg, kw.value)
        if self.rules.device_strings:
            self._device_string_args(node, q)
        if id(node) not in self.handled and self._device_string(node, "ambiguous"):
            return
        self.generic_visit(node)

    def _device_string_args(self, node: ast.Call, q: str | None) -> None:
        func = node.func
        if node.args:
            first = node.args[0]
            if q == "torch.device":
                self._device_string(first, "device")
            elif q in DEVICE_TYPE_CALLS:
                self._device_string(first, "device_type")
            elif q == "torch.load" and len(node.args) > 1:
                self._device_string(node.args[1], "map_location")
            elif isinstance(func, ast.Attribute) and func.attr == "to" and not self.imports.is_module_path(func.value):
                self._device_string(first, "device")
        for kw in node.keywords:
            position = DEVICE_KEYWORDS.get(kw.arg or "")
            if position is not None:
                self._device_string(kw.value, position)

    def _argument(self, rule: Rule, node: ast.Call, q: str) -> None:
        m = rule.match
        target: ast.AST | None = None
        value: ast.AST | None = None
        for kw in node.keywords:
            if kw.arg == m["keyword"]:
                target, value = kw, kw.value
        position = m.get("position")
        if target is None and position is not None and len(node.args) > position:
            if not any(isinstance(a, ast.Starred) for a in node.args[: position + 1]):
                value = node.args[position]
                target = _ArgMarker(value)
        if target is None or value is None:
            return
        if "variable_default" in m and not self._has_default(value, m["variable_default"]):
            return
        if "values" in m:
            dotted = self.imports.qualify(value) if isinstance(value, (ast.Name, ast.Attribute)) else None
            literal_ok = isinstance(value, ast.Constant) and any(_same_literal(value.value, v) for v in m["values"])
            if not literal_ok and not (dotted is not None and dotted in m["values"]):
                return
        literal = value.value if isinstance(value, ast.Constant) else ""
        self.add(rule, target, name=q, value=str(literal))


    def _has_default(self, value: ast.AST, defaults: list[object]) -> bool:
        """Is `value` a variable (`pin`, `args.pin_mem`) whose name the file gives one of these defaults?"""
        if not isinstance(value, (ast.Name, ast.Attribute)) or self.imports.qualify(value) is not None:
            return False
        if self._defaults is None:
            self._defaults = literal_defaults(self.tree)
        name = value.id if isinstance(value, ast.Name) else value.attr
        return any(_same_literal(seen, wanted) for seen in self._defaults.get(name, ()) for wanted in defaults)

    # dictionary entries ----------------------------------------------------------------------
    def visit_Dict(self, node: ast.Dict) -> None:
        if self.rules.dict_entries:
            for key, value in zip(node.keys, node.values):
                if isinstance(key, ast.Constant) and isinstance(key.value, str):
                    self._dict_entry(key.value, value)
        self.generic_visit(node)

    def _dict_entry(self, key: str, value: ast.AST) -> None:
        for rule in self.rules.dict_entries.get(key, ()):
            if isinstance(value, ast.Constant) and any(_same_literal(value.value, v) for v in rule.match["values"]):
                self.add(rule, value, name=key, value=str(value.value))


_EXIT_CALLS = {"exit", "quit", "sys.exit", "os._exit"}
_POSITIVE_COUNT_OPS = (ast.Gt, ast.GtE, ast.NotEq)  # `device_count() > 0`: true where there is a device
_MIRRORED: dict[type, type] = {ast.Lt: ast.Gt, ast.LtE: ast.GtE, ast.Gt: ast.Lt, ast.GtE: ast.LtE}


def _guards(test: ast.AST, sense: bool, tail: ast.AST | None) -> Iterable[tuple[ast.AST, bool | None, ast.AST | None]]:
    """(node, whether the test holds on CUDA when it is true — None: unknown, what an `and`
    evaluates after it) for each part of an `if` test a site may be."""
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        yield from _guards(test.operand, not sense, None)
        return
    if isinstance(test, ast.BoolOp):
        for i, value in enumerate(test.values):
            after = test.values[i + 1] if isinstance(test.op, ast.And) and sense and i + 1 < len(test.values) else tail
            yield from _guards(value, sense, after)
        return
    if isinstance(test, ast.Compare) and len(test.ops) == 1:
        compared = _compared_sense(test)
        yield test, None if compared is None else compared == sense, tail
        for side in (test.left, test.comparators[0]):
            if not isinstance(side, ast.Constant):
                yield side, None if compared is None else compared == sense, tail
        return
    yield test, sense, tail


def _compared_sense(test: ast.Compare) -> bool | None:
    """Whether a one-operator comparison is true on CUDA: `x == "cuda"` (True), `x != "cuda"`
    (False), `device_count() > 0` (True), `device_count() == 0` (False), `is_available() is
    False` (False); None when it cannot be told."""
    op, left, right = test.ops[0], test.left, test.comparators[0]
    if isinstance(op, (ast.Eq, ast.NotEq)) and (_is_cuda_literal(left) or _is_cuda_literal(right)):
        return isinstance(op, ast.Eq)
    if isinstance(op, (ast.In, ast.NotIn)) and _is_cuda_literal(left):
        return isinstance(op, ast.In)
    if isinstance(left, ast.Constant) and not isinstance(right, ast.Constant) and type(op) in _MIRRORED:
        left, right, op = right, left, _MIRRORED[type(op)]()
    if not isinstance(right, ast.Constant) or isinstance(left, ast.Constant):
        return None
    value = right.value
    if isinstance(value, bool) and isinstance(op, (ast.Eq, ast.Is, ast.NotEq, ast.IsNot)):
        return value == isinstance(op, (ast.Eq, ast.Is))
    counts = isinstance(left, ast.Call) and isinstance(left.func, (ast.Attribute, ast.Name)) and (getattr(left.func, "attr", None) or getattr(left.func, "id", "")) == "device_count"
    if counts and isinstance(value, int) and not isinstance(value, bool):
        if isinstance(op, ast.Eq):
            return value > 0
        if isinstance(op, _POSITIVE_COUNT_OPS):
            return True
        if isinstance(op, (ast.Lt, ast.LtE)):
            return False
    return None


def _index_parts(node: ast.AST, imports: ImportTable) -> list[ast.AST]:
    """The expressions a CUDA device string computes its index from (`f"cuda:{rank}"` → `rank`)."""
    if isinstance(node, ast.Call) and imports.qualify(node.func) == "torch.device" and len(node.args) == 1:
        node = node.args[0]
    if isinstance(node, ast.JoinedStr):
        return [v.value for v in node.values if isinstance(v, ast.FormattedValue)]
    if isinstance(node, ast.BinOp):
        return [node.right]
    if isinstance(node, ast.Call):
        return [*node.args, *(k.value for k in node.keywords)]
    return []


def _is_cuda_literal(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and node.value == "cuda"


def _statement_before(tree: ast.AST, node: ast.stmt) -> ast.stmt | None:
    """The statement right before `node` in its block (a walk of the tree: asked only of the rare
    `if/elif` device chain without an `else`)."""
    for parent in ast.walk(tree):
        for field in ("body", "orelse", "finalbody"):
            block = getattr(parent, field, None)
            if isinstance(block, list) and node in block:
                at = block.index(node)
                return block[at - 1] if at > 0 else None
    return None


def _exits(statement: ast.stmt) -> bool:
    if isinstance(statement, (ast.Return, ast.Raise, ast.Continue, ast.Break)):
        return True
    if isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Call):
        func = statement.value.func
        name = func.id if isinstance(func, ast.Name) else f"{func.value.id}.{func.attr}" if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) else ""
        return name in _EXIT_CALLS
    return False


_MISSING = object()
_VISITORS: dict[type, Any] = {}  # ast class -> the unbound `visit_*` method, or None
_STATEMENT_TYPES = frozenset(c for c in vars(ast).values() if isinstance(c, type) and issubclass(c, ast.stmt))


class _ArgMarker(ast.AST):
    """A positional argument matched by an `argument` rule (the site is the whole argument)."""

    node_type = "arg"

    def __init__(self, value: ast.AST, last: ast.AST | None = None) -> None:
        super().__init__()
        for attr in ("lineno", "col_offset"):
            setattr(self, attr, getattr(value, attr))
        for attr in ("end_lineno", "end_col_offset"):
            setattr(self, attr, getattr(last or value, attr))


class _TupleMarker(_ArgMarker):
    """A tuple's elements: libcst's position of a tuple leaves its parentheses out, `ast`'s does not."""

    node_type = "Tuple"


class _NameMarker(ast.AST):
    """The name of a `def` / `class` statement (the statement's own span covers its whole body)."""

    def __init__(self, node: ast.AST, name: str, lines: list[str]) -> None:
        super().__init__()
        line = node.lineno  # type: ignore[attr-defined]
        text = lines[line - 1] if 0 < line <= len(lines) else ""
        keyword = "class " if isinstance(node, ast.ClassDef) else "def "
        at = text.find(name, max(text.find(keyword), 0))
        self.lineno = self.end_lineno = line
        self.col_offset = len(text[: max(at, 0)].encode("utf-8"))  # (`ast` columns are in bytes)
        self.end_col_offset = self.col_offset + len(name.encode("utf-8")) if at >= 0 else len(text.encode("utf-8"))
        self.kind = type(node).__name__


def _same_literal(a: object, b: object) -> bool:
    return type(a) is type(b) and a == b


def _device_index_variables(scanner: _Scanner, tree: ast.Module) -> None:
    """Sites of `device-index-variable` rules: a pass of its own over the whole tree (the lines
    it reports, `.to(local_rank)`, spell no needle of the per-line pruning)."""
    from porttool.scan.device_indices import device_index_sites

    for node, kind in device_index_sites(tree, scanner.imports):
        site_node = _ArgMarker(node) if kind == "arg" else node
        for rule in scanner.rules.device_indices:
            scanner.add(rule, site_node)


def scan_tree(source: str, tree: ast.Module, rules: CompiledRules, *, prune: bool = True) -> list[Site]:
    """All sites in a parsed module, sorted by position (fallback sites only where unclaimed).

    `prune=False` visits every statement (the same result, slower: tests compare the two)."""
    scanner = _Scanner(source, tree, rules, prune=prune)
    scanner.visit(tree)
    if scanner.bindings:
        scanner.report_module_variable_uses()
    if rules.device_indices and "cuda" in source and ("device" in source or ".to(" in source):
        _device_index_variables(scanner, tree)
    claimed = {s.claim for s in scanner.sites if s.claim is not None}
    sites = scanner.sites + [s for s in scanner.fallbacks if s.claim not in claimed]
    reported_lines = {line for s in sites for line in range(s.span.line, s.span.end_line + 1)}
    sites += [s for s in scanner.weak if s.span.line not in reported_lines]
    sites.sort(key=lambda s: (s.span.line, s.span.column, s.code))
    return sites


def scan_source(source: str, rules: CompiledRules, filename: str = "<string>") -> list[Site]:
    """Parse and scan; raises SyntaxError/ValueError for sources that are not valid Python."""
    if not rules.may_match(source):
        return []
    tree = ast.parse(source, filename=filename)
    return scan_tree(source, tree, rules)
