"""Frozen values shared by every stage: rules, findings, fixes, per-file results, run summaries.

Nothing here does I/O or imports a parser; every other module speaks in these types.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any

TARGETS: tuple[str, ...] = ("neuron", "portable", "neuron-xla")
DEFAULT_TARGET = "neuron"


class Severity(str, Enum):
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"

    @property
    def rank(self) -> int:
        return {"info": 0, "warning": 1, "error": 2}[self.value]


class Action(str, Enum):
    REWRITE = "rewrite"
    REMOVE = "remove"
    MANUAL = "manual"
    INFO = "info"
    KEEP = "keep"


class Effort(str, Enum):
    """How much manual work one site of a rule needs where a person must act (SYCLomatic's levels):
    `low` minutes (check and apply a known replacement), `medium` hours (a replacement that needs
    understanding of the code around it), `high` a rewrite (no equivalent on the target: a kernel,
    a CUDA-only library)."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class Applicability(str, Enum):
    SAFE = "safe"
    UNSAFE = "unsafe"


class FixStatus(str, Enum):
    """What porttool can do with one finding for one target (the per-target column of a report)."""

    SAFE = "safe"  # fixed by `porttool rewrite`
    UNSAFE = "unsafe"  # fixed with `--unsafe-fixes`; changes behaviour
    MANUAL = "manual"  # a human must port it; guidance given
    NONE = "none"  # a hint: nothing to fix


@dataclass(frozen=True)
class TargetFix:
    """How one rule treats one target (a `[fix.<target>]` table)."""

    action: Action
    applicability: Applicability | None = None
    title: str = ""
    behaviour_change: str = ""
    guidance: str = ""
    template: str | None = None
    handler: str | None = None
    imports: tuple[str, ...] = ()
    severity: Severity | None = None
    effort: Effort | None = None  # per-target override of the rule's effort

    @property
    def status(self) -> FixStatus:
        if self.action in (Action.REWRITE, Action.REMOVE):
            return FixStatus.UNSAFE if self.applicability is Applicability.UNSAFE else FixStatus.SAFE
        if self.action is Action.MANUAL:
            return FixStatus.MANUAL
        return FixStatus.NONE


@dataclass(frozen=True)
class Example:
    target: str
    before: str
    after: str | None
    file: str = ""  # the file name `before` is scanned as (dependency manifests: "requirements.txt", "Dockerfile"...)


@dataclass(frozen=True)
class Rule:
    code: str
    name: str
    summary: str
    why: str
    severity: Severity
    match: dict[str, Any]
    fixes: dict[str, TargetFix]
    examples: tuple[Example, ...]
    valid: tuple[str, ...]
    message: str = ""
    known_problems: str = ""
    references: tuple[str, ...] = ()
    source: str = ""  # the rule file, for messages
    effort: Effort = Effort.MEDIUM  # the manual work per site (rule files set it; see docs/rule-format.md)
    valid_files: tuple[tuple[str, str], ...] = ()  # (file name, text) that must not match: manifest rules' `valid`

    @property
    def family(self) -> str:
        return self.source.replace("\\", "/").rsplit("/", 2)[-2] if "/" in self.source else ""

    def fix_for(self, target: str) -> TargetFix:
        return self.fixes[target]

    def severity_for(self, target: str) -> Severity:
        return self.fixes[target].severity or self.severity

    def effort_for(self, target: str) -> Effort:
        return self.fixes[target].effort or self.effort


@dataclass(frozen=True)
class Span:
    """A source range: 1-based lines, 0-based columns counted in characters (not bytes)."""

    line: int
    column: int
    end_line: int
    end_column: int


@dataclass(frozen=True)
class Site:
    """A place a matcher found, before it becomes a per-target finding."""

    code: str
    span: Span
    node_type: str  # the ast class of the matched node (Call, Attribute, keyword, Assign, ...)
    name: str = ""  # the matched qualified/attribute name
    value: str = ""  # the matched literal, where there is one
    in_dispatch: bool = False  # inside an if/elif chain that already dispatches per backend
    claim: Span | None = None  # the dotted expression this site claims (for fallback rules)
    gate: str = ""  # a capability gate: the CUDA-only feature its answer switches on (`scan.capability_gates`)
    branch: tuple[int, int, int, int] | None = None  # a guard (`x == "cuda"`, `torch.cuda.is_available()`): where its CUDA branch starts and ends (line, column, end line, end column)


@dataclass(frozen=True)
class Finding:
    code: str
    rule: str  # rule name
    message: str
    path: str  # as reported: relative to the working directory where possible, POSIX separators
    span: Span
    severity: Severity
    target: str
    status: FixStatus
    fix_title: str = ""
    guidance: str = ""
    behaviour_change: str = ""
    snippet: str = ""  # the first source line of the site
    fingerprint: str = ""  # stable across edits elsewhere in the file (for baselines)
    node_type: str = ""
    in_dispatch: bool = False
    cell: int | None = None  # notebook cell index (0-based), for .ipynb files

    @property
    def fixable(self) -> bool:
        return self.status in (FixStatus.SAFE, FixStatus.UNSAFE)

    def sort_key(self) -> tuple[Any, ...]:
        return (self.path, self.span.line, self.span.column, self.code)


@dataclass(frozen=True)
class Diagnostic:
    """A problem with a file itself (unreadable, not Python, ...), reported instead of findings."""

    code: str  # PT9xx
    path: str
    message: str
    line: int = 1
    column: int = 0


DIAGNOSTIC_CODES: dict[str, str] = {
    "PT901": "file-unreadable",
    "PT902": "syntax-error",
    "PT903": "encoding-error",
    "PT904": "null-bytes",
    "PT905": "notebook-invalid",
    "PT906": "fix-rejected",
    "PT907": "write-failed",
    "PT908": "file-too-large",
    "PT909": "manifest-invalid",
}


@dataclass(frozen=True)
class FileResult:
    path: str
    findings: tuple[Finding, ...] = ()
    diagnostics: tuple[Diagnostic, ...] = ()
    original: str | None = None  # set by rewrite when the file changes
    rewritten: str | None = None
    applied: tuple[Finding, ...] = ()  # findings fixed by the rewrite
    held_back: tuple[Finding, ...] = ()  # fixable only with --unsafe-fixes
    suppressed: int = 0
    sites: tuple[Site, ...] = ()  # every unsuppressed site, for per-target scores

    @property
    def changed(self) -> bool:
        return self.rewritten is not None and self.rewritten != self.original


@dataclass(frozen=True)
class RunSummary:
    target: str
    files_scanned: int
    results: tuple[FileResult, ...] = field(default_factory=tuple)

    @property
    def findings(self) -> list[Finding]:
        return [f for r in self.results for f in r.findings]

    @property
    def diagnostics(self) -> list[Diagnostic]:
        return [d for r in self.results for d in r.diagnostics]


@dataclass(frozen=True)
class ScanReport:
    """What every renderer receives for a scan (or the scan part of a rewrite)."""

    target: str
    results: tuple[FileResult, ...]
    rules: tuple[Rule, ...]  # the selected rules (for SARIF's tool.driver.rules, docs links)
    scores: dict[str, dict[str, int | float]]  # per target: sites, safe, unsafe, manual, hint, score
    version: str
    baseline: dict[str, Any] | None = None  # with --baseline: file, new, baselined, gone entries

    @property
    def findings(self) -> list[Finding]:
        return sorted((f for r in self.results for f in r.findings), key=Finding.sort_key)

    @property
    def diagnostics(self) -> list[Diagnostic]:
        return sorted((d for r in self.results for d in r.diagnostics), key=lambda d: (d.path, d.line, d.code))

    @property
    def files_scanned(self) -> int:
        return len(self.results)
