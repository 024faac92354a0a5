"""The rule set: load every rule file (built-in and user folders), validated before any scan,
and select rules by code, prefix or ALL.

Rules are data (`rules/<family>/PTnnn-name.toml`); porttool.ruleset.schema validates each one.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from importlib import resources
from pathlib import Path

from porttool.model import Rule
from porttool.ruleset.schema import RuleError, load_rule_file


def builtin_rules_dir() -> Path:
    """The rules shipped inside the package (mapped from the repository's top-level `rules/`)."""
    return Path(str(resources.files("porttool.rules")))


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
