"""The rule set: load every rule file (built-in and user folders), validated before any scan,
and select rules by code, prefix or ALL.

Rules are data (`rules/<family>/PTnnn-name.toml`); porttool.ruleset.schema validates each one.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
import importlib.util
from pathlib import Path

from porttool.model import Rule
from porttool.ruleset import RuleError


def builtin_rules_dir() -> Path:
    """The rules shipped inside the package (mapped from the repository's top-level `rules/`)."""
    # (the package's folder from its spec: `importlib.resources` costs ~4 ms of every start-up)
    spec = importlib.util.find_spec("porttool.rules")
    if spec is None or not spec.submodule_search_locations:
        raise RuleError("porttool.rules", "(package)", "the built-in rules are not installed")
    return Path(next(iter(spec.submodule_search_locations)))


def load_rule_file(path: Path) -> Rule:
    """One rule file, parsed and validated (porttool.ruleset.schema, imported only when a rule
    file is read at all: a run served by the rule-set cache never loads it)."""
    from porttool.ruleset.schema import load_rule_file as parse

    return parse(path)


@dataclass(frozen=True)
class Registry:
    """All loaded rules, by code. Immutable; `select` returns a narrowed copy."""

    rules: tuple[Rule, ...]

    @cached_property
    def by_code(self) -> dict[str, Rule]:
        return {r.code: r for r in self.rules}

    def __len__(self) -> int:
        return len(self.rules)

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.rules)

    def get(self, code_or_name: str) -> Rule | None:
        key = code_or_name.strip()
        for rule in self.rules:
            if rule.code == key.upper() or rule.name == key:
                return rule
        return None

    def select(self, select: Sequence[str] = (), ignore: Sequence[str] = ()) -> Registry:
        """Keep rules matching any `select` selector (default ALL), minus `ignore` ones."""
        chosen = [r for r in self.rules if not select or any(_selects(s, r) for s in select)]
        chosen = [r for r in chosen if not any(_selects(s, r) for s in ignore)]
        return Registry(tuple(chosen))

    @cached_property
    def signature(self) -> str:
        """A digest of every rule's content, for cache invalidation."""
        import hashlib

        h = hashlib.sha256()
        for r in self.rules:
            h.update(repr((r.code, r.name, r.message, r.summary, r.match, r.fixes, r.severity)).encode())
        return h.hexdigest()[:16]


def _selects(selector: str, rule: Rule) -> bool:
    s = selector.strip()
    if s.upper() == "ALL":
        return True
    return rule.code.startswith(s.upper()) or rule.name == s


def validate_selectors(selectors: Iterable[str], registry: Registry) -> list[str]:
    """Selectors that match no rule (so the CLI can reject typos)."""
    return [s for s in selectors if not any(_selects(s, r) for r in registry.rules)]


def load_registry(extra_dirs: Sequence[Path] = (), *, builtin: bool = True, cache: bool = False) -> Registry:
    """Load the built-in rules and any user rule folders; validate all before returning.
    With `cache`, a registry validated by an earlier run with the same rule files is reused
    (porttool.ruleset.registry_cache)."""
    dirs = ([builtin_rules_dir()] if builtin else []) + list(extra_dirs)
    for d in dirs:
        if not d.is_dir():
            raise RuleError(str(d), "(rules-dir)", "not a directory")
    files = [path for d in dirs for path in sorted(d.rglob("*.toml"))]
    if cache:
        from porttool.ruleset import registry_cache

        cached = registry_cache.load(files)
        if cached is not None:
            return cached
    rules: list[Rule] = []
    seen_codes: dict[str, str] = {}
    seen_names: dict[str, str] = {}
    for path in files:
        rule = load_rule_file(path)
        if rule.code in seen_codes:
            raise RuleError(rule.source, "code", f"duplicate code {rule.code} (also in {seen_codes[rule.code]})")
        if rule.name in seen_names:
            raise RuleError(rule.source, "name", f"duplicate name {rule.name} (also in {seen_names[rule.name]})")
        seen_codes[rule.code], seen_names[rule.name] = rule.source, rule.source
        rules.append(rule)
    rules.sort(key=lambda r: r.code)
    registry = Registry(tuple(rules))
    if cache:
        registry_cache.store(files, registry)
    return registry
