"""Every example in every rule file runs as a test (the Fixit pattern).

- `before` produces the rule's finding for the example's target;
- for rewriting targets, the port of `before` (this rule alone, unsafe fixes on) is exactly
  `after`, compiles, and a second port changes nothing;
- every `valid` snippet produces no finding of the rule.

Manifest rules' examples and `valid` entries name the file they are scanned as
(`requirements.txt`, `Dockerfile`, ...); they never rewrite.
"""

from __future__ import annotations

import pytest

from porttool.rewrite import run as rewrite_run
from porttool.scan import run as scan_run
from porttool.model import Action
from porttool.ruleset.registry import load_registry

REGISTRY = load_registry()
EXAMPLES = [
    pytest.param(rule, i, id=f"{rule.code}-{ex.target}-{i}")
    for rule in REGISTRY
    if rule.match["kind"] != "file"
    for i, ex in enumerate(rule.examples)
]
VALID = [pytest.param(rule, i, id=f"{rule.code}-valid-{i}") for rule in REGISTRY if rule.match["kind"] != "file" for i in range(len(rule.valid))]
VALID_FILES = [pytest.param(rule, i, id=f"{rule.code}-valid-{i}") for rule in REGISTRY for i in range(len(rule.valid_files))]


@pytest.mark.parametrize(("rule", "index"), EXAMPLES)
def test_example(rule, index):
    example = rule.examples[index]
    only = REGISTRY.select([rule.code])
    sites = scan_run.sites_in_file_text(example.before, example.file, only) if example.file else scan_run.sites_in_text(example.before, only)
    assert any(s.code == rule.code for s in sites), f"{rule.code}: example 'before' produces no finding:\n{example.before}"
    fix = rule.fix_for(example.target)
    if example.after is None:
        return
    assert fix.action in (Action.REWRITE, Action.REMOVE)
    result = rewrite_run.port_text(example.before, only, example.target, unsafe=True)
    assert not result.rejected, f"{rule.code}: the port was rejected: {result.rejected}"
    assert not result.declined, f"{rule.code}: a site was declined: {result.declined}"
    assert result.text == example.after, f"{rule.code} [{example.target}] port differs:\n--- got\n{result.text}\n--- expected\n{example.after}"
    compile(result.text, "<after>", "exec")
    again = rewrite_run.port_text(result.text, only, example.target, unsafe=True)
    assert again.text == result.text, f"{rule.code}: a second port changed the result"


@pytest.mark.parametrize(("rule", "index"), VALID)
def test_valid_code_is_not_flagged(rule, index):
    snippet = rule.valid[index]
    sites = scan_run.sites_in_text(snippet, REGISTRY.select([rule.code]))
    assert not [s for s in sites if s.code == rule.code], f"{rule.code} flagged valid code:\n{snippet}"


def test_every_rule_has_examples_for_every_reporting_target():
    for rule in REGISTRY:
        for target, fix in rule.fixes.items():
            if fix.action is Action.KEEP or rule.match["kind"] == "file":
                continue
            assert any(e.target == target for e in rule.examples), f"{rule.code} has no example for {target}"


@pytest.mark.parametrize(("rule", "index"), VALID_FILES)
def test_valid_manifest_is_not_flagged(rule, index):
    name, text = rule.valid_files[index]
    sites = scan_run.sites_in_file_text(text, name, REGISTRY.select([rule.code]))
    assert not [s for s in sites if s.code == rule.code], f"{rule.code} flagged valid {name}:\n{text}"


def test_manifest_rules_have_valid_files():
    manifest = [r for r in REGISTRY if r.match["kind"] == "manifest"]
    assert len(manifest) >= 15
    assert all(r.valid_files and not r.valid for r in manifest)
