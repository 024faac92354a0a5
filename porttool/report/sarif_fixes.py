"""SARIF `fixes` for the results porttool can fix safely, taken from the real rewrite.

For a file with safe findings, the file is read and ported as `porttool rewrite` (no
`--unsafe-fixes`) would port it: the same plan, transform and verification. The port's changes
are split into replacements (changed lines, trimmed to the characters that differ), and each
safe result's fix holds:

- the replacements over the lines of its own site (one-line fixes on adjacent lines are kept
  apart, so each result gets only its own edit where lines are replaced one for one; where the
  rewrite replaces several sites' lines as one block, each of them gets that block, and its
  description names the others it fixes too);
- the insertions no site owns — imports the fixes need, a `DEVICE` constant — because a fix
  applied on its own must leave code that runs. Applying several fixes of one file one after
  another can therefore add such a line twice. Edits that follow from all the fixes together
  (an import that no longer has a use is removed) belong to no single fix and are left out. To
  port a whole file, use `porttool rewrite --apply`.

Nothing is fixed where porttool would not fix it: a finding held back (unsafe), declined by its
handler, rejected by verification, in a notebook (its cells live inside JSON), or in a file that
changed since the scan (its site is no longer where the finding says) gets no `fixes`.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from porttool.model import Diagnostic, Finding, FixStatus, Span
from porttool.ruleset.registry import Registry

Replacement = tuple[int, int, int, int, str]  # start line, start column, end line, end column (1-based lines, 0-based columns), inserted text


def file_fixes(path: str, findings: Sequence[Finding], registry: Registry, target: str) -> dict[int, dict[str, Any]]:
    """SARIF fix objects for the safe findings of one file, by their index in `findings`."""
    wanted = [i for i, f in enumerate(findings) if f.status is FixStatus.SAFE and f.cell is None]
    if not wanted or path.endswith(".ipynb"):
        return {}
    from porttool.rewrite.verification import rewrite_text
    from porttool.scan.analysis import analyse
    from porttool.scan.run import compiled
    from porttool.scan.sources import read_source

    source = read_source(Path(path), path)
    if isinstance(source, Diagnostic) or source.is_notebook:
        return {}
    rules = compiled(registry)
    analysis = analyse(source, rules, keep_tree=True)
    if isinstance(analysis, Diagnostic) or not analysis.sites:
        return {}
    result = rewrite_text(analysis.text, analysis.sites, registry, rules, target, unsafe=False, tree=analysis.tree)
    if result.text == analysis.text or not result.applied:
        return {}
    applied = {(s.code, s.span) for s in result.applied}
    spans = [s.span for s in result.applied]
    code_of = {s.span: s.code for s in result.applied}
    owned: dict[Span, list[Replacement]] = {span: [] for span in spans}
    together: dict[Span, set[Span]] = {span: set() for span in spans}  # sites one edit fixes at once
    shared: list[Replacement] = []
    for first, last, replacement in replacements(analysis.text, result.text):
        owners = [span for span in spans if first <= last and span.line <= last and span.end_line >= first]
        if not owners and replacement[:2] == replacement[2:4]:  # an insertion: an import or constant a fix needs
            shared.append(replacement)
        for span in owners:
            owned[span].append(replacement)
            together[span].update(o for o in owners if o != span)
    fixes: dict[int, dict[str, Any]] = {}
    uri = None
    for index in wanted:
        finding = findings[index]
        if (finding.code, finding.span) not in applied or not owned.get(finding.span):
            continue
        if uri is None:
            from porttool.report.sarif import artifact_location

            uri = artifact_location(path)
        edits = sorted(set(owned[finding.span] + shared))
        description = finding.fix_title
        if together[finding.span]:
            others = ", ".join(f"{code_of[o]} on line {o.line}" for o in sorted(together[finding.span], key=lambda o: (o.line, o.column)))
            description += f"; the rewrite changes these lines as one edit, which also fixes {others}"
        if shared:
            description += " (with the lines it needs elsewhere in the file: imports, the device constant)"
        fixes[index] = {
            "description": {"text": description},
            "artifactChanges": [{"artifactLocation": dict(uri), "replacements": [_sarif(r) for r in edits]}],
        }
    return fixes


def replacements(before: str, after: str) -> list[tuple[int, int, Replacement]]:
    """The changes from `before` to `after`: (first, last original line a change belongs to —
    last < first for an insertion between unchanged lines — and the replacement), in order."""
    old, new = before.splitlines(keepends=True), after.splitlines(keepends=True)
    out: list[tuple[int, int, Replacement]] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, old, new, autojunk=False).get_opcodes():
        if tag == "equal":
            continue
        if tag == "insert":
            out.append((i1 + 1, i1, _trimmed(old, i1, i1, "".join(new[j1:j2]))))
            continue
        pairs = _aligned(old, i1, i2, new, j1, j2) if tag == "replace" else None
        if pairs is None:  # one block
            out.append((i1 + 1, i2, _trimmed(old, i1, i2, "".join(new[j1:j2]))))
            continue
        for a1, a2, b1, b2 in pairs:
            # a line inserted inside the block (a guard `if`) belongs to the line it goes before
            # (or, at the block's end, the one it follows)
            first, last = (a1 + 1, a2) if a2 > a1 else ((a1 + 1, a1 + 1) if a1 < i2 else (a1, a1))
            out.append((first, last, _trimmed(old, a1, a2, "".join(new[b1:b2]))))
    return out


def _aligned(old: list[str], i1: int, i2: int, new: list[str], j1: int, j2: int) -> list[tuple[int, int, int, int]] | None:
    """Old lines i1..i2 replaced by new lines j1..j2, split into one replacement per old line
    (each paired, in order, with the new line most like it) plus the new lines between them; None
    when some old line has no similar new line (the block is then one replacement)."""
    pieces: list[tuple[int, int, int, int]] = []
    j = j1
    for i in range(i1, i2):
        slack = (j2 - j) - (i2 - i)  # new lines that may still be passed over as insertions
        if slack < 0:
            return None
        best, best_ratio = -1, 0.5
        for k in range(j, j + slack + 1):
            ratio = difflib.SequenceMatcher(None, old[i], new[k], autojunk=False).ratio()
            if ratio > best_ratio:
                best, best_ratio = k, ratio
        if best < 0:
            return None
        if best > j:
            pieces.append((i, i, j, best))
        pieces.append((i, i + 1, best, best + 1))
        j = best + 1
    if j < j2:
        pieces.append((i2, i2, j, j2))
    return pieces


def _trimmed(old: list[str], a1: int, a2: int, inserted: str) -> Replacement:
    """Lines a1..a2 (0-based, end exclusive) of `old` replaced by `inserted`, narrowed to the
    characters that differ."""
    deleted = "".join(old[a1:a2])
    prefix = 0
    limit = min(len(deleted), len(inserted))
    while prefix < limit and deleted[prefix] == inserted[prefix]:
        prefix += 1
    suffix = 0
    while suffix < limit - prefix and deleted[-1 - suffix] == inserted[-1 - suffix]:
        suffix += 1
    start = _position(deleted, prefix, a1 + 1)
    end = _position(deleted, len(deleted) - suffix, a1 + 1)
    return (*start, *end, inserted[prefix : len(inserted) - suffix])


def _position(text: str, offset: int, first_line: int) -> tuple[int, int]:
    """(line, column) of `offset` in `text`, which starts at column 0 of `first_line`."""
    head = text[:offset]
    newlines = head.count("\n") + head.count("\r") - head.count("\r\n")
    last = max(head.rfind("\n"), head.rfind("\r"))
    return first_line + newlines, offset - last - 1


def _sarif(replacement: Replacement) -> dict[str, Any]:
    line, column, end_line, end_column, text = replacement
    return {
        "deletedRegion": {"startLine": line, "startColumn": column + 1, "endLine": end_line, "endColumn": end_column + 1},
        "insertedContent": {"text": text},
    }


def apply_replacements(text: str, edits: Sequence[Replacement]) -> str:
    """`text` with `edits` applied (what a SARIF consumer does with a fix; for the tests)."""
    lines = text.splitlines(keepends=True)
    starts = [0]
    for each in lines:
        starts.append(starts[-1] + len(each))

    def offset(line: int, column: int) -> int:
        return (starts[line - 1] if line - 1 < len(starts) else starts[-1]) + column

    out = text
    for line, column, end_line, end_column, inserted in sorted(edits, reverse=True):
        a, b = offset(line, column), offset(end_line, end_column)
        out = out[:a] + inserted + out[b:]
    return out
