"""Streaming reports: each file's findings are written as its result arrives, so a scan of any
size holds one file's findings at a time, plus counters for the summary.

Every format has a `Writer` (next to its `render`) that writes exactly the bytes `render` writes
for the same results. What makes that possible:

- results must come in the order of their displayed paths (the order `render` sorts findings by);
  `porttool scan` sorts its candidates by displayed path before scanning, and results of the same
  path that arrive one after another are merged;
- within a file, findings and diagnostics are sorted as `render` sorts them;
- what a format writes before the findings but computes from all of them (the JSON summary, the
  SARIF notifications) is written at the end: the findings go to a spool file (in memory while
  small, then a temporary file) and the document is assembled around it. Diagnostics, which are
  few, are kept until the end where a format lists them after the findings.

`tests/report/test_streaming.py` checks stream == render for every format on generated results.
"""

from __future__ import annotations

import importlib
import math
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterable, Sequence
from json.encoder import encode_basestring_ascii
from typing import IO, TYPE_CHECKING, Any, TextIO

from porttool.model import TARGETS, FixStatus, Severity
from porttool.report import _MODULES, FORMATS, finding_order
from porttool.report.scores import ScoreTally
from porttool.ruleset.registry import Registry

if TYPE_CHECKING:
    from porttool.model import Diagnostic, FileResult, Finding, Rule

SPOOL_IN_MEMORY = 8 * 1024 * 1024  # bytes of spooled findings kept in memory before a temp file


class Totals:
    """What the summaries need, counted as results stream past."""

    def __init__(self) -> None:
        self.files_scanned = 0
        self.findings = 0
        self.diagnostics = 0
        self.suppressed = 0
        self.files_with_findings = 0
        self.files_with_diagnostics = 0
        self.by_severity: dict[str, int] = {s.value: 0 for s in sorted(Severity, key=lambda s: -s.rank)}
        self.by_status: dict[str, int] = {s.value: 0 for s in FixStatus}
        self.by_rule: Counter[tuple[str, str]] = Counter()  # (code, rule name) -> findings
        self.fixable: Counter[str] = Counter()  # code -> fixable findings
        self.diagnostic_codes: Counter[str] = Counter()

    def count(self, findings: Sequence[Finding], diagnostics: Sequence[Diagnostic]) -> None:
        if findings:
            self.files_with_findings += 1
            self.findings += len(findings)
            by_severity, by_status, by_rule, fixable = self.by_severity, self.by_status, self.by_rule, self.fixable
            for f in findings:
                by_severity[f.severity.value] += 1
                by_status[f.status.value] += 1
                by_rule[(f.code, f.rule)] += 1
                if f.status is FixStatus.SAFE or f.status is FixStatus.UNSAFE:
                    fixable[f.code] += 1
        if diagnostics:
            self.files_with_diagnostics += 1
            self.diagnostics += len(diagnostics)
            self.diagnostic_codes.update(d.code for d in diagnostics)

    def at_or_above(self, rank: int) -> int:
        """Findings whose severity ranks at least `rank` (what `--fail-on` counts)."""
        return sum(n for sev, n in self.by_severity.items() if Severity(sev).rank >= rank)


class ReportStream:
    """Feed `FileResult`s in displayed-path order with `add`; `finish` writes the rest."""

    def __init__(self, fmt: str, stream: TextIO, *, target: str, rules: Sequence[Rule], version: str, statistics: bool = False, color: bool | None = None) -> None:
        module_name = _MODULES.get(fmt)
        if module_name is None:
            raise ValueError(f"unknown report format {fmt!r} (formats: {', '.join(FORMATS)})")
        module = importlib.import_module(module_name)
        extra: dict[str, Any] = {"statistics": statistics, "color": color} if fmt == "text" else {}
        self.writer = module.Writer(stream, target=target, rules=tuple(rules), version=version, **extra)
        self.totals = Totals()
        self.scores = ScoreTally(Registry(tuple(rules)), TARGETS)
        self._path: str | None = None
        self._findings: list[Finding] = []
        self._diagnostics: list[Diagnostic] = []

    def add(self, result: FileResult) -> None:
        totals = self.totals
        totals.files_scanned += 1
        totals.suppressed += result.suppressed
        if result.sites:
            self.scores.add(result.sites)
        if result.path != self._path:
            self._emit()
            self._path = result.path
        self._findings.extend(result.findings)
        self._diagnostics.extend(result.diagnostics)

    def add_all(self, results: Iterable[FileResult]) -> None:
        for result in results:
            self.add(result)

    def _emit(self) -> None:
        findings, diagnostics = self._findings, self._diagnostics
        if not findings and not diagnostics:
            return
        self._findings, self._diagnostics = [], []
        if len(findings) > 1:
            findings.sort(key=finding_order)
        if len(diagnostics) > 1:
            diagnostics.sort(key=lambda d: (d.path, d.line, d.column, d.code, d.message))
        self.totals.count(findings, diagnostics)
        self.writer.file(findings, diagnostics)

    def finish(self, baseline: dict[str, Any] | None = None) -> Totals:
        self._emit()
        self.writer.finish(self.totals, self.scores.scores(), baseline)
        return self.totals


# JSON with indent=2, written piecewise -------------------------------------------------------------
# `json.dump(..., indent=2)` runs json's pure-Python encoder; these produce the same text (strings
# through json's C escaper, ensure_ascii) an order of magnitude faster. Checked against json.dumps
# in the tests.


def dumps_indented(obj: Any, level: int = 0) -> str:
    """`json.dumps(obj, indent=2, ensure_ascii=True)`, as if nested `level` levels deep."""
    if isinstance(obj, str):
        return encode_basestring_ascii(obj)
    if obj is None:
        return "null"
    if obj is True:
        return "true"
    if obj is False:
        return "false"
    if isinstance(obj, int):
        return int.__repr__(obj)
    if isinstance(obj, float):
        return _float(obj)
    if isinstance(obj, dict):
        if not obj:
            return "{}"
        inner = "\n" + "  " * (level + 1)
        return "{" + inner + ("," + inner).join(encode_basestring_ascii(str(k)) + ": " + dumps_indented(v, level + 1) for k, v in obj.items()) + "\n" + "  " * level + "}"
    if isinstance(obj, (list, tuple)):
        if not obj:
            return "[]"
        inner = "\n" + "  " * (level + 1)
        return "[" + inner + ("," + inner).join(dumps_indented(v, level + 1) for v in obj) + "\n" + "  " * level + "]"
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


def _float(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if value == float("inf"):
        return "Infinity"
    if value == -float("inf"):
        return "-Infinity"
    return float.__repr__(value)


class Spool:
    """The items of one JSON list, written as they come and spliced into the document at the end."""

    def __init__(self, level: int) -> None:
        self.file: IO[str] = tempfile.SpooledTemporaryFile(  # noqa: SIM115 - closed by close()
            max_size=SPOOL_IN_MEMORY, mode="w+", encoding="ascii", newline=""
        )
        self.prefix = "\n" + "  " * level
        self.count = 0
        self._buffer: list[str] = []  # written to the file in blocks (each write there costs a tell)

    def write(self, item: str) -> None:
        self._buffer.append(("," if self.count else "") + self.prefix + item)
        self.count += 1
        if len(self._buffer) >= 512:
            self._flush()

    def _flush(self) -> None:
        if self._buffer:
            self.file.write("".join(self._buffer))
            self._buffer.clear()

    def splice(self, document: str, key: str, level: int, stream: TextIO) -> None:
        """Write `document` (dumped with `key` holding an empty list) to `stream`, the spooled
        items in place of that empty list."""
        marker = "\n" + "  " * level + encode_basestring_ascii(key) + ": []"
        cut = document.index(marker) + len(marker) - 1
        if not self.count:
            stream.write(document)
            return
        self._flush()
        stream.write(document[:cut])
        self.file.seek(0)
        shutil.copyfileobj(self.file, stream, 1024 * 1024)
        stream.write("\n" + "  " * level)
        stream.write(document[cut:])

    def close(self) -> None:
        self.file.close()
