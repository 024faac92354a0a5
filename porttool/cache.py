"""A content-hash cache of per-file scan results, so a re-scan of an unchanged tree reads and
hashes each file instead of parsing it.

Where: `$PORTTOOL_CACHE_DIR`, else `$XDG_CACHE_HOME/porttool`, else `~/.cache/porttool`; one
SQLite database (WAL mode, a busy timeout) that concurrent runs share safely. Off with
`porttool scan --no-cache`, `cache = false` in `[tool.porttool]` or `PORTTOOL_NO_CACHE=1`.

An entry's key is the hash of the file's bytes and its displayed path (a finding carries the
path). Entries live in a namespace that changes with everything else a result depends on:
porttool's version and its own code, the Python version (the `ast` grammar), the selected rules'
content (`Registry.signature`, which covers `--select/--ignore`, rule folders and their edits)
and the target. A namespace not used for 30 days is dropped.

The cache never makes a run fail: an unreadable, locked or corrupted database, or an entry that
does not decode, is a miss (a corrupted database file is moved aside and started afresh).
Rewrites are never cached: they are computed from a fresh scan.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import hashlib
import json
import os
import sqlite3
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from porttool import __version__, model
from porttool.discovery import Candidate
from porttool.model import FileResult
from porttool.sources import MAX_BYTES

SCHEMA = 1
DATABASE = f"scan-v{SCHEMA}.sqlite3"
BUSY_TIMEOUT_S = 30.0
STALE_AFTER_S = 30 * 24 * 3600
COMMIT_EVERY = 500  # results per write transaction: few fsyncs, short locks

_TYPES: dict[str, type] = {
    name: obj
    for name, obj in vars(model).items()
    if isinstance(obj, type) and obj.__module__ == model.__name__ and (dataclasses.is_dataclass(obj) or issubclass(obj, enum.Enum))
}

_ENUMS: dict[str, type[enum.Enum]] = {name: cls for name, cls in _TYPES.items() if issubclass(cls, enum.Enum)}
_FIELDS: dict[str, tuple[str, ...]] = {name: tuple(f.name for f in dataclasses.fields(cls)) for name, cls in _TYPES.items() if dataclasses.is_dataclass(cls)}


def cache_dir() -> Path:
    explicit = os.environ.get("PORTTOOL_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME")
    return (Path(base) if base and os.path.isabs(base) else Path.home() / ".cache") / "porttool"


def disabled_by_environment() -> bool:
    return os.environ.get("PORTTOOL_NO_CACHE", "").strip().lower() not in ("", "0", "false", "no")


@functools.lru_cache(maxsize=1)
def code_signature() -> str:
    """A digest of porttool's own sources: an edited checkout must not reuse old results."""
    h = hashlib.blake2b(digest_size=16)
    package = Path(__file__).resolve().parent
    for path in sorted(package.rglob("*.py")):
        h.update(path.relative_to(package).as_posix().encode())
        try:
            h.update(path.read_bytes())
        except OSError:
            h.update(b"?")
    return h.hexdigest()


def namespace(registry_signature: str, target: str) -> str:
    parts = [SCHEMA, __version__, code_signature(), list(sys.version_info[:2]), registry_signature, target]
    return hashlib.blake2b(json.dumps(parts).encode(), digest_size=16).hexdigest()


def entry_key(data: bytes, display: str) -> str:
    h = hashlib.blake2b(data, digest_size=20)
    h.update(b"\0" + display.encode("utf-8", "surrogateescape"))
    return h.hexdigest()


# values ------------------------------------------------------------------------------------------
# A result is stored as compact JSON: a model dataclass as {"@": class, "f": [field values]}, an
# enum as {"#": class, "v": value}, a tuple as a list. Only porttool.model types decode, and a
# field count that does not match the class (an entry from other code) is a miss.


def encode(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)) and not isinstance(value, enum.Enum):
        return value
    if isinstance(value, enum.Enum):
        return {"#": type(value).__name__, "v": value.value}
    if isinstance(value, (tuple, list)):
        return [encode(v) for v in value]
    names = _FIELDS.get(type(value).__name__)
    if names is not None and _TYPES[type(value).__name__] is type(value):
        return {"@": type(value).__name__, "f": [encode(getattr(value, n)) for n in names]}
    raise TypeError(f"cannot cache a {type(value).__name__}")


def _revive(obj: dict[str, Any]) -> Any:
    """json's object hook: inner objects are revived first, so lists here hold finished values."""
    if "@" in obj:
        name = obj["@"]
        names, values = _FIELDS[name], obj["f"]
        if len(values) != len(names):
            raise ValueError("field count changed")
        return _TYPES[name](**{n: tuple(v) if type(v) is list else v for n, v in zip(names, values)})
    return _ENUMS[obj["#"]](obj["v"])


def dumps(result: FileResult) -> bytes:
    return json.dumps(encode(result), separators=(",", ":"), ensure_ascii=False).encode()


def loads(data: bytes) -> FileResult:
    result = json.loads(data, object_hook=_revive)
    if not isinstance(result, FileResult):
        raise TypeError("not a file result")
    return result


# the store ---------------------------------------------------------------------------------------


class ScanCache:
    """One run's view of the cache: a namespace in the shared database."""

    def __init__(self, connection: sqlite3.Connection, space: str, path: Path) -> None:
        self.connection = connection
        self.namespace = space
        self.path = path
        self.hits = 0
        self.misses = 0
        self._pending: list[tuple[str, str, bytes]] = []

    @classmethod
    def open(cls, registry_signature: str, target: str, directory: Path | None = None) -> ScanCache | None:
        """The cache for these rules and target, or None when it is off or cannot be used."""
        if disabled_by_environment():
            return None
        directory = directory or cache_dir()
        path = directory / DATABASE
        space = namespace(registry_signature, target)
        for attempt in range(2):
            try:
                directory.mkdir(parents=True, exist_ok=True)
                connection = _connect(path)
                _touch_namespace(connection, space)
                return cls(connection, space, path)
            except sqlite3.DatabaseError as exc:  # not a database, malformed: start afresh once
                if attempt == 0 and _is_corruption(exc):
                    _move_aside(path)
                    continue
                return None
            except OSError:
                return None
        return None

    def get(self, key: str) -> FileResult | None:
        try:
            row = self.connection.execute("SELECT value FROM entries WHERE namespace = ? AND key = ?", (self.namespace, key)).fetchone()
        except sqlite3.Error:
            row = None
        if row is not None:
            try:
                result = loads(row[0])
            except (ValueError, KeyError, TypeError, IndexError, UnicodeDecodeError, RecursionError):
                result = None  # a damaged or foreign entry: scan again, the put replaces it
            if result is not None:
                self.hits += 1
                return result
        self.misses += 1
        return None

    def put(self, key: str, result: FileResult) -> None:
        try:
            value = dumps(result)
        except (TypeError, ValueError):
            return
        self._pending.append((self.namespace, key, value))
        if len(self._pending) >= COMMIT_EVERY:
            self.flush()

    def flush(self) -> None:
        rows, self._pending = self._pending, []
        if not rows:
            return
        try:
            with self.connection:
                self.connection.executemany("INSERT OR REPLACE INTO entries (namespace, key, value) VALUES (?, ?, ?)", rows)
        except sqlite3.Error:
            pass  # locked past the timeout, disk full, read-only: this run just does not cache

    def close(self) -> None:
        self.flush()
        try:
            self.connection.close()
        except sqlite3.Error:
            pass


def _connect(path: Path) -> sqlite3.Connection:
    connection = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
    try:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")
        connection.execute(
            "CREATE TABLE IF NOT EXISTS entries (namespace TEXT NOT NULL, key TEXT NOT NULL, value BLOB NOT NULL, "
            "PRIMARY KEY (namespace, key)) WITHOUT ROWID"
        )
        connection.execute("CREATE TABLE IF NOT EXISTS namespaces (namespace TEXT PRIMARY KEY, used REAL NOT NULL)")
    except BaseException:
        connection.close()
        raise
    return connection


def _touch_namespace(connection: sqlite3.Connection, space: str) -> None:
    now = time.time()
    with connection:
        connection.execute("INSERT OR REPLACE INTO namespaces (namespace, used) VALUES (?, ?)", (space, now))
        stale = [row[0] for row in connection.execute("SELECT namespace FROM namespaces WHERE used < ?", (now - STALE_AFTER_S,))]
        for old in stale:
            connection.execute("DELETE FROM entries WHERE namespace = ?", (old,))
            connection.execute("DELETE FROM namespaces WHERE namespace = ?", (old,))


def _is_corruption(exc: sqlite3.DatabaseError) -> bool:
    text = str(exc).lower()
    return "not a database" in text or "malformed" in text or "corrupt" in text


def _move_aside(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        try:
            os.replace(f"{path}{suffix}", f"{path}{suffix}.corrupt-{os.getpid()}")
        except OSError:
            pass


# the scan ----------------------------------------------------------------------------------------


def _read_for_key(path: Path) -> bytes | None:
    """The bytes to hash, or None for files the cache leaves alone (unreadable, too large)."""
    try:
        if path.stat().st_size > MAX_BYTES:
            return None
        return path.read_bytes()
    except OSError:
        return None


def cached_scan(
    candidates: Sequence[Candidate],
    display: Callable[[Path], str],
    scan: Callable[[Sequence[Candidate]], Iterator[FileResult]],
    cache: ScanCache,
    progress: Callable[[int], None] | None = None,
) -> Iterator[FileResult]:
    """Results in candidate order: hits from the cache, misses from `scan` (stored as they come)."""
    keys: list[str | None] = []
    hits: dict[int, FileResult] = {}
    misses: list[Candidate] = []
    for index, candidate in enumerate(candidates):
        data = _read_for_key(candidate.path)
        key = None if data is None else entry_key(data, display(candidate.path))
        keys.append(key)
        found = cache.get(key) if key is not None else None
        if found is not None:
            hits[index] = found
        else:
            misses.append(candidate)
    fresh = scan(misses)
    try:
        for index, key in enumerate(keys):
            if index in hits:
                if progress:
                    progress(1)
                yield hits.pop(index)
                continue
            result = next(fresh)
            if key is not None:
                cache.put(key, result)
            yield result
    finally:
        cache.flush()
