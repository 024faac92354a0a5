"""The `manifest` matcher kind: dependency-manifest entries → sites, and the scan of one manifest
file (read, prefilter, parse, match, suppress).

A rule's `[match]` says which entries it finds:

    kind = "manifest"
    entry = "package"            # package | index | image | channel | env
    names = ["flash-attn*"]      # globs, any case; package names compared normalised (PEP 503:
                                 #   `Flash_Attn` is `flash-attn`)
    exclude = ["nvidia-ml-py"]   # globs that do not match
    version = '\\+cu\\d+'           # a regular expression searched in the version as written
    pattern = 'download\\.pytorch\\.org/whl/cu\\d+'   # ... searched in the name (URLs, images)
    installer = "conda"          # only entries a pip / conda resolver reads
    triggers = ["pytorch"]       # words one of which every match's text contains (the
                                 #   prefilter), needed when there are no names

An entry matches when every key given holds. The site spans the entry (a requirement from its
name to its version, a URL, an image reference, a key).
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Sequence
from dataclasses import dataclass

from porttool.model import Diagnostic, Rule, Site
from porttool.scan.analysis import Analysis
from porttool.scan.manifests import parse
from porttool.scan.manifests.entries import IMAGE, PACKAGE, Entry, Manifest
from porttool.scan.rule_index import CompiledRules
from porttool.scan.sources import SourceFile
from porttool.scan.suppressions import Suppressions, suppressions_in_comments


def normalise(name: str) -> str:
    """PEP 503: lower case, runs of `-`, `_`, `.` as one `-`."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _image(reference: str) -> str:
    """An image reference as Docker Hub spells it short: no `docker.io/`, no `library/`."""
    lower = reference.lower()
    for prefix in ("docker.io/", "index.docker.io/", "registry-1.docker.io/"):
        if lower.startswith(prefix):
            lower = lower[len(prefix) :]
    return lower[len("library/") :] if lower.startswith("library/") else lower


@dataclass(frozen=True)
class ManifestMatcher:
    rule: Rule
    entry: str
    names: re.Pattern[str] | None
    exclude: re.Pattern[str] | None
    pattern: re.Pattern[str] | None
    version: re.Pattern[str] | None
    installer: str | None

    @classmethod
    def of(cls, rule: Rule) -> ManifestMatcher:
        m = rule.match
        fold = normalise if m["entry"] == PACKAGE else str.lower

        def globs(key: str) -> re.Pattern[str] | None:
            if key not in m:
                return None
            return re.compile("|".join(fnmatch.translate(fold(g)) for g in m[key]))

        return cls(
            rule,
            m["entry"],
            globs("names"),
            globs("exclude"),
            re.compile(m["pattern"], re.I) if "pattern" in m else None,
            re.compile(m["version"], re.I) if "version" in m else None,
            m.get("installer"),
        )

    def matches(self, entry: Entry) -> bool:
        if entry.kind != self.entry or (self.installer is not None and entry.installer != self.installer):
            return False
        name = normalise(entry.name) if entry.kind == PACKAGE else (_image(entry.name) if entry.kind == IMAGE else entry.name.lower())
        if self.names is not None and not self.names.match(name):
            return False
        if self.exclude is not None and self.exclude.match(name):
            return False
        if self.pattern is not None and not self.pattern.search(entry.name):
            return False
        return self.version is None or self.version.search(entry.version) is not None


_MATCHERS: dict[int, tuple[CompiledRules, list[ManifestMatcher]]] = {}


def matchers(rules: CompiledRules) -> list[ManifestMatcher]:
    """The manifest matchers of a rule set, built on first use (a Python-only scan never does)."""
    known = _MATCHERS.get(id(rules))
    if known is None or known[0] is not rules:
        known = _MATCHERS[id(rules)] = (rules, [ManifestMatcher.of(rule) for rule in rules.manifests])
    return known[1]


def sites_of(entries: Sequence[Entry], rules: CompiledRules) -> list[Site]:
    found = []
    for entry in entries:
        for matcher in matchers(rules):
            if matcher.matches(entry):
                found.append(Site(code=matcher.rule.code, span=entry.span, node_type=f"manifest-{entry.kind}", name=entry.name, value=entry.version or entry.name))
    found.sort(key=lambda s: (s.span.line, s.span.column, s.code))
    return found


def analyse_manifest(source: SourceFile, kind: str, rules: CompiledRules) -> Analysis | Diagnostic:
    """The sites of one manifest file (not setup.py, whose Python the scan reads too)."""
    text = source.text
    if not rules.may_match_manifest(text):
        return Analysis(source, text, (), (), Suppressions())
    manifest = parse(kind, text)
    if manifest.problem:
        return Diagnostic("PT909", source.display, manifest.problem)
    suppressions = suppressions_in_comments(manifest.comments)
    return _split(source, text, manifest, rules, suppressions)


def setup_py_sites(analysis: Analysis, rules: CompiledRules) -> Analysis:
    """`analysis` of a setup.py with the sites of its dependency lists added (its own Python
    comments suppress them)."""
    if not rules.manifests or not rules.may_match_manifest(analysis.text) or analysis.suppressions.skip_file:
        return analysis
    manifest = parse("setup-py", analysis.text)
    extra = _split(analysis.source, analysis.text, manifest, rules, analysis.suppressions)
    if not extra.sites and not extra.suppressed:
        return analysis
    from dataclasses import replace

    return replace(analysis, sites=analysis.sites + extra.sites, suppressed=analysis.suppressed + extra.suppressed)


def _split(source: SourceFile, text: str, manifest: Manifest, rules: CompiledRules, suppressions: Suppressions) -> Analysis:
    if suppressions.skip_file:
        return Analysis(source, text, (), (), suppressions)
    sites = sites_of(manifest.entries, rules)
    kept = tuple(s for s in sites if not suppressions.suppresses(s.code, s.span.line))
    dropped = tuple(s for s in sites if suppressions.suppresses(s.code, s.span.line))
    return Analysis(source, text, kept, dropped, suppressions)
