"""The validated rule registry, kept between runs.

Reading and validating the 73 built-in TOML rule files is ~25 ms of every run (a fifth of a
pre-commit scan, measured with `python -X importtime` and cProfile); reading the registry back
from here takes ~2 ms. It lives next to the scan cache (`porttool.caching.cache_dir`), one small
file per rule set, and obeys the same switches (`--no-cache`, `cache = false`,
`PORTTOOL_NO_CACHE`).

The key covers porttool's version and own code, the Python version, and every rule file's path,
size, mtime, ctime and inode, in load order: an edited, added, removed or replaced rule file is a
miss. A rule set with a file changed less than `RACY_S` ago is not recorded (an edit within the
same clock tick could keep the stat). Entries are pickles read back by an unpickler that builds
porttool's own model classes and nothing else; an entry that does not load is a miss, never an
error. Entries not written for `STALE_AFTER_S` are removed when a new one is written.
"""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from porttool import __version__
from porttool.ruleset.registry import Registry

SCHEMA = 1
RACY_S = 2.0
STALE_AFTER_S = 30 * 24 * 3600
_ALLOWED_MODULES = ("porttool.model", "porttool.ruleset.registry")


def folder() -> Path:
    from porttool.caching import cache_dir

    return cache_dir() / "rules"


def key(files: Sequence[Path]) -> str | None:
    """The rule set's key, or None when it should not be recorded (a file changed just now)."""
    from porttool.caching import code_signature

    h = hashlib.blake2b(digest_size=16)
    h.update(repr((SCHEMA, __version__, code_signature(), sys.version_info[:2])).encode())
    now = time.time()
    for path in files:
        st = os.stat(path)
        if now - st.st_mtime < RACY_S or now - st.st_ctime < RACY_S:
            return None
        h.update(repr((os.fspath(path), st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)).encode())
    return h.hexdigest()


def load(files: Sequence[Path]) -> Registry | None:
    try:
        name = key(files)
        if name is None:
            return None
        data = (folder() / f"{name}.pickle").read_bytes()
        registry = _ModelUnpickler(io.BytesIO(data)).load()
    except Exception:  # noqa: BLE001 - any unreadable entry is a miss
        return None
    return registry if isinstance(registry, Registry) else None


def store(files: Sequence[Path], registry: Registry) -> None:
    from porttool.atomic_write import write_atomic

    try:
        name = key(files)
        if name is None:
            return
        where = folder()
        where.mkdir(parents=True, exist_ok=True)
        write_atomic(where / f"{name}.pickle", pickle.dumps(registry, protocol=pickle.HIGHEST_PROTOCOL))
        _prune(where, keep=f"{name}.pickle")
    except (OSError, pickle.PicklingError):
        pass  # a cache that cannot be written costs time, never a run


def _prune(where: Path, keep: str) -> None:
    cutoff = time.time() - STALE_AFTER_S
    for entry in where.glob("*.pickle"):
        try:
            if entry.name != keep and entry.stat().st_mtime < cutoff:
                entry.unlink()
        except OSError:
            pass


class _ModelUnpickler(pickle.Unpickler):
    """Builds porttool's model classes only: a tampered entry cannot reach any other callable."""

    def find_class(self, module: str, name: str) -> Any:
        if module in _ALLOWED_MODULES:
            found = super().find_class(module, name)
            if isinstance(found, type):
                return found
        raise pickle.UnpicklingError(f"{module}.{name} is not a porttool model class")
