"""Where rewritten files go: in place (atomically, refusing to clobber uncommitted work) or a copy.

`porttool rewrite --apply` writes only files whose content changed, each atomically, keeping
encoding, BOM, newline style and mode (the text already carries its newlines; `SourceFile.encode`
restores encoding and BOM). `--out-dir` writes a ported copy of the tree and never touches the
source.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from pathlib import Path

from porttool.atomic_write import write_atomic
from porttool.model import FileResult
from porttool.scan.sources import SourceFile, read_source


class WorkspaceError(Exception):
    """Writing cannot go ahead (dirty files, a bad --out-dir); the message says why."""


def apply_in_place(results: Sequence[FileResult], sources: dict[str, Path]) -> list[tuple[str, str]]:
    """Write each changed file atomically. Returns (path, error) for files that could not be written."""
    failures: list[tuple[str, str]] = []
    written: set[Path] = set()
    for result in results:
        if not result.changed:
            continue
        # a symlink inside the tree is written through (the link stays a link), and a file reached
        # by two names is written once
        path = sources[result.path].resolve()
        if path in written:
            continue
        written.add(path)
        error = _write_result(path, result)
        if error:
            failures.append((result.path, error))
    return failures


def _write_result(path: Path, result: FileResult, destination: Path | None = None) -> str | None:
    current = read_source(path, result.path)
    if not isinstance(current, SourceFile):
        return current.message
    if current.text != result.original:
        return "the file changed while porttool was working on it; run again"
    try:
        data = current.encode(result.rewritten or "")
    except UnicodeEncodeError as exc:
        return f"the port cannot be written in the file's encoding ({current.encoding}): {exc.reason}"
    if destination is None and not _writable(path):
        return "the file is read-only; left unchanged (make it writable to port it)"
    try:
        if destination is None:
            write_atomic(path, data)
        else:
            destination.parent.mkdir(parents=True, exist_ok=True)
            destination.write_bytes(data)
            shutil.copymode(path, destination)
    except OSError as exc:
        return f"cannot write: {exc.strerror or exc}"
    return None


def _writable(path: Path) -> bool:
    """Whether the user may write the file (a read-only file is not replaced, even by root or in a
    writable directory, where an atomic rename would otherwise get round its mode)."""
    try:
        return os.access(path, os.W_OK) and bool(path.stat().st_mode & 0o222)
    except OSError:
        return False


def write_out_dir(results: Sequence[FileResult], sources: dict[str, Path], roots: Sequence[Path], out_dir: Path) -> list[tuple[str, str]]:
    """Copy each root tree to `out_dir` (unchanged files too), then write the ported files there."""
    out_dir = out_dir.absolute()
    for root in roots:
        resolved = root.resolve()
        if out_dir == resolved or resolved in out_dir.parents:
            raise WorkspaceError(f"--out-dir {out_dir} must not be inside the source tree {root}")
    if out_dir.exists() and any(out_dir.iterdir()):
        raise WorkspaceError(f"--out-dir {out_dir} exists and is not empty")
    out_dir.mkdir(parents=True, exist_ok=True)
    ignore = shutil.ignore_patterns(".git", "__pycache__", ".venv", "venv", "node_modules", ".mypy_cache", ".pytest_cache")
    anchors: list[tuple[Path, Path]] = []
    for root in roots:
        if root.is_dir():
            dest = out_dir if len(roots) == 1 else out_dir / _safe_name(root)
            shutil.copytree(root, dest, ignore=ignore, symlinks=True, dirs_exist_ok=True)
            anchors.append((root.absolute(), dest))
        else:
            dest = out_dir / root.name
            shutil.copy2(root, dest)
            anchors.append((root.absolute(), dest))
    failures: list[tuple[str, str]] = []
    for result in results:
        if not result.changed:
            continue
        path = sources[result.path].absolute()
        destination = _destination(path, anchors)
        if destination is None:
            failures.append((result.path, "not under any of the given paths"))
            continue
        error = _write_result(sources[result.path], result, destination)
        if error:
            failures.append((result.path, error))
    return failures


def _safe_name(root: Path) -> str:
    return root.absolute().name or "root"


def _destination(path: Path, anchors: list[tuple[Path, Path]]) -> Path | None:
    for source, dest in anchors:
        if path == source:
            return dest
        try:
            return dest / path.relative_to(source)
        except ValueError:
            continue
    return None

