"""The baseline ratchet: record today's findings, then fail only on new ones.

`porttool scan --write-baseline FILE` records every finding as (file, rule code, fingerprint);
`porttool scan --baseline FILE` hides the findings recorded there and reports the recorded ones
that have disappeared, so a team can adopt porttool on a large code base and stop new CUDA code
from creeping in while the old is ported.

Keys survive edits: the file is stored relative to the baseline's own directory (so the working
directory does not matter) and the fingerprint hashes the rule, the matched code with whitespace
normalised and its occurrence index among identical matches in the file — never a line number.
Matching counts: two identical `torch.cuda.synchronize()` lines recorded once each leave room for
exactly two. Line and snippet are stored for humans reading the file or its diff in review.

The file is a versioned contract: `{"schema_version": 1, "tool": "porttool", "findings": [...]}`,
entries sorted, no timestamps, so rewriting an unchanged baseline changes no byte.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from porttool.model import Finding, ScanReport

SCHEMA_VERSION = 1


class BaselineError(Exception):
    """The baseline file cannot be read or written; the message names it and says why."""


@dataclass(frozen=True, order=True)
class Entry:
    file: str  # POSIX, relative to the baseline file's directory
    code: str
    fingerprint: str
    line: int = 0  # for humans only: never used to match
    snippet: str = ""  # for humans only

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.file, self.code, self.fingerprint)

    def to_json(self) -> dict[str, Any]:
        return {"file": self.file, "code": self.code, "fingerprint": self.fingerprint, "line": self.line, "snippet": self.snippet}


@dataclass(frozen=True)
class Comparison:
    """A scan measured against a baseline."""

    new: tuple[Finding, ...]  # not in the baseline: these fail the run
    baselined: tuple[Finding, ...]  # recorded in the baseline: hidden
    gone: tuple[Entry, ...]  # recorded, but no longer found in the files scanned

    def to_json(self, baseline_file: str) -> dict[str, Any]:
        return {
            "file": baseline_file,
            "new": len(self.new),
            "baselined": len(self.baselined),
            "gone": [entry.to_json() for entry in self.gone],
        }


def relative_file(finding_path: str, cwd: Path, root: Path) -> str:
    """A finding's path (as displayed, relative to `cwd`) made relative to the baseline's `root`."""
    absolute = Path(os.path.normpath(cwd / finding_path))
    try:
        return Path(os.path.relpath(absolute, root)).as_posix()
    except ValueError:  # another drive on Windows
        return absolute.as_posix()


def entry_for(finding: Finding, cwd: Path, root: Path) -> Entry:
    return Entry(relative_file(finding.path, cwd, root), finding.code, finding.fingerprint, finding.span.line, finding.snippet)


def load(path: Path) -> list[Entry]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BaselineError(f"baseline {path} does not exist (create it with `porttool scan --write-baseline {path}`)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BaselineError(f"cannot read baseline {path}: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise BaselineError(f"baseline {path} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict) or data.get("tool") != "porttool" or not isinstance(data.get("findings"), list):
        raise BaselineError(f"baseline {path} is not a porttool baseline (written by `porttool scan --write-baseline`)")
    if data.get("schema_version") != SCHEMA_VERSION:
        raise BaselineError(f"baseline {path} has schema_version {data.get('schema_version')!r}; this porttool reads {SCHEMA_VERSION}")
    entries = []
    for i, item in enumerate(data["findings"]):
        try:
            entries.append(Entry(str(item["file"]), str(item["code"]), str(item["fingerprint"]), int(item.get("line", 0)), str(item.get("snippet", ""))))
        except (KeyError, TypeError, ValueError, AttributeError):
            raise BaselineError(f"baseline {path}: entry {i} needs file, code and fingerprint") from None
    return entries


def render(entries: Iterable[Entry]) -> str:
    doc = {"schema_version": SCHEMA_VERSION, "tool": "porttool", "findings": [e.to_json() for e in sorted(entries)]}
    return json.dumps(doc, indent=2, ensure_ascii=True) + "\n"


def write(path: Path, findings: Sequence[Finding], scanned: Iterable[str], cwd: Path) -> list[Entry]:
    """Record `findings` in `path`. Entries of an existing baseline for files this run did not scan
    (a `--changed-since` or pre-commit subset) are kept while those files exist."""
    root = path.absolute().parent
    entries = [entry_for(f, cwd, root) for f in findings]
    if path.exists():
        scanned_files = {relative_file(p, cwd, root) for p in scanned}
        entries += [e for e in load(path) if e.file not in scanned_files and (root / e.file).exists()]
    try:
        from porttool.atomic_write import write_atomic  # (tempfile: only when a baseline is written)

        write_atomic(path, render(entries).encode("utf-8"))
    except OSError as exc:
        raise BaselineError(f"cannot write baseline {path}: {exc.strerror or exc}") from exc
    return sorted(entries)


def compare(findings: Sequence[Finding], entries: Sequence[Entry], baseline_path: Path, scanned: Iterable[str], cwd: Path) -> Comparison:
    """Split findings into new and baselined; list the entries of scanned files that are gone.

    An entry is gone when its file was scanned and the finding is no longer there, or when its
    file no longer exists (deleted or renamed)."""
    root = baseline_path.absolute().parent
    budget = Counter(e.key for e in entries)
    new: list[Finding] = []
    baselined: list[Finding] = []
    for finding in sorted(findings, key=Finding.sort_key):
        key = entry_for(finding, cwd, root).key
        if budget[key] > 0:
            budget[key] -= 1
            baselined.append(finding)
        else:
            new.append(finding)
    scanned_files = {relative_file(p, cwd, root) for p in scanned}
    gone: list[Entry] = []
    for entry in sorted(entries):
        if budget[entry.key] > 0 and (entry.file in scanned_files or not (root / entry.file).exists()):
            budget[entry.key] -= 1
            gone.append(entry)
    return Comparison(tuple(new), tuple(baselined), tuple(gone))


def apply(report: ScanReport, entries: Sequence[Entry], baseline_path: Path, cwd: Path) -> tuple[ScanReport, Comparison]:
    """The report with baselined findings hidden (scores still count every site), and the comparison."""
    scanned = [r.path for r in report.results]
    comparison = compare(report.findings, entries, baseline_path, scanned, cwd)
    hidden = {id(f) for f in comparison.baselined}
    results = tuple(replace(r, findings=tuple(f for f in r.findings if id(f) not in hidden)) for r in report.results)
    summary = comparison.to_json(baseline_path.as_posix())
    return replace(report, results=results, baseline=summary), comparison


def narration(comparison: Comparison, baseline_path: Path) -> str:
    """What `scan --baseline` says on stderr."""
    n_new, n_old = len(comparison.new), len(comparison.baselined)
    lines = [f"porttool: baseline {baseline_path}: {n_old} finding{'s' * (n_old != 1)} baselined (hidden), {n_new} new"]
    if comparison.gone:
        n = len(comparison.gone)
        lines.append(
            f"porttool: {n} baselined finding{'s are' if n != 1 else ' is'} gone (fixed, or the code moved to another file); "
            f"record the progress with `porttool scan --write-baseline {baseline_path}`:"
        )
        lines += [f"  {e.file}:{e.line}: {e.code} {e.snippet}".rstrip() for e in comparison.gone]
    return "\n".join(lines) + "\n"
