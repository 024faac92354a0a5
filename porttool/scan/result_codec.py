"""A scan result as bytes and back: what the result cache stores and pool workers send."""

from __future__ import annotations

import marshal
from collections.abc import Sequence
from typing import Any

from porttool.model import Diagnostic, FileResult, Finding, FixStatus, Severity, Site, Span


_FINDING = ("code", "rule", "message", "path", "span", "severity", "target", "status", "fix_title", "guidance", "behaviour_change", "snippet", "fingerprint", "node_type", "in_dispatch", "cell")
_SITE = ("code", "span", "node_type", "name", "value", "in_dispatch", "claim", "gate", "branch")
_DIAGNOSTIC = ("code", "path", "message", "line", "column")
_RESULT = ("path", "findings", "diagnostics", "original", "rewritten", "applied", "held_back", "suppressed", "sites")
_TAG = "porttool-scan-3"
_SEVERITIES = {s.value: s for s in Severity}
_STATUSES = {s.value: s for s in FixStatus}
_new = object.__new__


def _check_fields() -> None:
    import dataclasses

    for cls, names in ((Finding, _FINDING), (Site, _SITE), (Diagnostic, _DIAGNOSTIC), (FileResult, _RESULT), (Span, ("line", "column", "end_line", "end_column"))):
        if tuple(f.name for f in dataclasses.fields(cls)) != names:  # pragma: no cover - caught by the tests
            raise RuntimeError(f"porttool.scan.result_codec: the fields of {cls.__name__} changed; update the cache encoding")


_check_fields()


def _span_t(span: Span) -> tuple[int, int, int, int]:
    return (span.line, span.column, span.end_line, span.end_column)


def _finding_t(f: Finding) -> tuple[Any, ...]:
    if type(f) is not Finding:
        raise TypeError(f"cannot cache a {type(f).__name__}")
    return (f.code, f.rule, f.message, f.path, _span_t(f.span), f.severity.value, f.target, f.status.value, f.fix_title, f.guidance, f.behaviour_change, f.snippet, f.fingerprint, f.node_type, f.in_dispatch, f.cell)


def _site_t(s: Site) -> tuple[Any, ...]:
    if type(s) is not Site:
        raise TypeError(f"cannot cache a {type(s).__name__}")
    return (s.code, _span_t(s.span), s.node_type, s.name, s.value, s.in_dispatch, None if s.claim is None else _span_t(s.claim), s.gate, s.branch)


def encode(result: Any) -> tuple[Any, ...]:
    if type(result) is not FileResult:
        raise TypeError(f"cannot cache a {type(result).__name__}")
    r = result
    diagnostics = tuple((d.code, d.path, d.message, d.line, d.column) for d in r.diagnostics)
    return (_TAG, r.path, tuple(map(_finding_t, r.findings)), diagnostics, r.original, r.rewritten, tuple(map(_finding_t, r.applied)), tuple(map(_finding_t, r.held_back)), r.suppressed, tuple(map(_site_t, r.sites)))


def _span(t: tuple[int, int, int, int]) -> Span:
    span = _new(Span)
    span.__dict__.update(line=t[0], column=t[1], end_line=t[2], end_column=t[3])
    return span


def _finding(t: tuple[Any, ...]) -> Finding:
    if len(t) != 16:
        raise ValueError("not a finding")
    finding = _new(Finding)
    d = finding.__dict__
    d.update(zip(_FINDING, t))
    d["span"] = _span(t[4])
    d["severity"] = _SEVERITIES[t[5]]
    d["status"] = _STATUSES[t[7]]
    return finding


def _site(t: tuple[Any, ...]) -> Site:
    if len(t) != 9:
        raise ValueError("not a site")
    site = _new(Site)
    d = site.__dict__
    d.update(zip(_SITE, t))
    d["span"] = _span(t[1])
    if t[6] is not None:
        d["claim"] = _span(t[6])
    return site


def _diagnostic(t: tuple[Any, ...]) -> Diagnostic:
    if len(t) != 5:
        raise ValueError("not a diagnostic")
    diagnostic = _new(Diagnostic)
    diagnostic.__dict__.update(zip(_DIAGNOSTIC, t))
    return diagnostic


def decode(t: Any) -> FileResult:
    if type(t) is not tuple or len(t) != 10 or t[0] != _TAG:
        raise TypeError("not a file result")
    result = _new(FileResult)
    result.__dict__.update(
        path=t[1],
        findings=tuple(map(_finding, t[2])),
        diagnostics=tuple(map(_diagnostic, t[3])),
        original=t[4],
        rewritten=t[5],
        applied=tuple(map(_finding, t[6])),
        held_back=tuple(map(_finding, t[7])),
        suppressed=t[8],
        sites=tuple(map(_site, t[9])),
    )
    return result


def dumps(result: FileResult) -> bytes:
    return marshal.dumps(encode(result), 4)


def loads(data: bytes) -> FileResult:
    return decode(marshal.loads(data))


def dumps_many(results: Sequence[FileResult]) -> bytes:
    """Several results in one value (how pool workers send a batch back: pickling the dataclasses
    one attribute at a time costs several times more CPU on both sides)."""
    return marshal.dumps([encode(r) for r in results], 4)


def loads_many(data: bytes) -> list[FileResult]:
    return [decode(t) for t in marshal.loads(data)]


DECODE_ERRORS = (ValueError, KeyError, TypeError, IndexError, EOFError, UnicodeDecodeError, RecursionError, AttributeError)
