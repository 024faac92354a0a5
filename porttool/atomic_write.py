"""Writing files safely: atomic replacement that keeps the file mode, and clean-up of the
temporary files an interrupted run may leave. Standard library only (no libcst), so every
writer can use it.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any


def write_atomic(path: Path, data: bytes) -> None:
    """Replace (or create) `path` with `data` in one step, keeping an existing file's mode; never
    leaves a torn file: readers see the old content or the new, nothing in between."""
    with atomic_writer(path) as handle:
        handle.write(data)


@contextlib.contextmanager
def atomic_writer(path: Path, text: bool = False) -> Iterator[IO[Any]]:
    """A file to write `path` through, a piece at a time: a temporary file beside it that replaces
    `path` only when the block ends without an error (text mode: UTF-8, newlines untranslated).
    An error, or a kill, leaves `path` as it was."""
    try:
        mode = path.stat().st_mode & 0o7777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".porttool-tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") if text else os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


@contextlib.contextmanager
def report_writer(path: Path) -> Iterator[IO[Any]]:
    """Where a report goes (`-o FILE`): a regular file is replaced whole when the report is done
    (`atomic_writer`, through a symlink to its target); a device or a pipe (`-o /dev/null`,
    `-o /dev/stdout`) is written as it is — replacing those would swap the device for a file."""
    target = Path(os.path.realpath(path))
    try:
        regular = stat.S_ISREG(target.stat().st_mode)
    except FileNotFoundError:
        regular = True  # a new file
    if not regular:
        with open(target, "w", encoding="utf-8", newline="") as handle:
            yield handle
        return
    with atomic_writer(target, text=True) as handle:
        yield handle


def clean_stale_temp_files(root: Path) -> int:
    """Remove temporary files an interrupted `--apply` may have left (returns how many)."""
    removed = 0
    for tmp in root.rglob(".*.porttool-tmp") if root.is_dir() else ():
        try:
            tmp.unlink()
            removed += 1
        except OSError:
            pass
    return removed
