"""A content-hash cache of per-file scan results, so a re-scan of an unchanged tree neither parses
nor (mostly) reads a file.

Where: `$PORTTOOL_CACHE_DIR`, else `$XDG_CACHE_HOME/porttool`, else `~/.cache/porttool`; one
SQLite database (WAL mode, a busy timeout) that concurrent runs share safely. Off with
`porttool scan --no-cache`, `cache = false` in `[tool.porttool]` or `PORTTOOL_NO_CACHE=1`.

An entry's key is the hash of the file's bytes and its displayed path (a finding carries the
path). Entries live in a namespace that changes with everything else a result depends on:
porttool's version and its own code, the Python version (the `ast` grammar), the selected rules'
content (`Registry.signature`, which covers `--select/--ignore`, rule folders and their edits)
and the target. A namespace not used for 30 days is dropped.

The stat fast path (like git's index or ruff's cache): next to the entries, a table maps a file's
absolute path to what `os.stat` said when its bytes were last hashed (size, mtime and ctime in
nanoseconds, inode, device) and the key those bytes gave. When all of these are unchanged the key
is taken without reading the file. What that guarantees: any write to a file, or any `os.utime`
on it, sets its ctime to the current time, and replacing it (an editor's save by rename) changes
its inode, so a changed file never matches its recorded stat — even an edit that keeps the size
and puts the old mtime back. Same-second edits are covered by the racy-timestamp rule: a stat
whose mtime or ctime is within `RACY_S` (2 s) of the moment it was taken is never recorded (the
file could still change within the timestamp's granularity), so such a file is read and hashed
again next time. What it does not cover: a clock set back by more than that, or a file system
that reports neither ctime nor a changing mtime; `--no-cache` is the way out there.

The cache never makes a run fail: an unreadable, locked or corrupted database, or an entry that
does not decode, is a miss (a corrupted database file is moved aside and started afresh).
Rewrites are never cached: they are computed from a fresh scan.

Memory stays flat with the tree's size: lookups go in batches of `CHUNK` paths, a run keeps one
20-byte key per file between its two passes, and values are decoded one batch at a time as the
results are consumed.
"""

from __future__ import annotations

import array
import hashlib
import json
import os
import sqlite3
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from porttool import __version__
from porttool.caching import cache_dir, code_signature, disabled_by_environment
from porttool.model import FileResult
from porttool.scan.discovery import Candidate
from porttool.scan.result_codec import DECODE_ERRORS, dumps, loads
from porttool.scan.sources import MAX_BYTES

SCHEMA = 2
DATABASE = f"scan-v{SCHEMA}.sqlite3"
BUSY_TIMEOUT_S = 30.0
STALE_AFTER_S = 30 * 24 * 3600
COMMIT_EVERY = 500  # results per write transaction: few fsyncs, short locks
CHUNK = 400  # paths or keys per lookup query (below SQLite's oldest 999-parameter limit)
RACY_S = 2.0  # a stat this close to its file's last change is not trusted later


def namespace(registry_signature: str, target: str) -> str:
    parts = [SCHEMA, __version__, code_signature(), list(sys.version_info[:2]), registry_signature, target]
    return hashlib.blake2b(json.dumps(parts).encode(), digest_size=16).hexdigest()


def entry_key(data: bytes, display: str) -> bytes:
    h = hashlib.blake2b(data, digest_size=20)
    h.update(b"\0" + display.encode("utf-8", "surrogateescape"))
    return h.digest()


# the store ---------------------------------------------------------------------------------------


class ScanCache:
    """One run's view of the cache: a namespace in the shared database."""

    def __init__(self, connection: sqlite3.Connection, space: str, path: Path) -> None:
        self.connection = connection
        self.namespace = space
        self.path = path
        self.hits = 0
        self.misses = 0
        self._pending: list[tuple[str, bytes, bytes]] = []
        self._pending_stats: list[tuple[Any, ...]] = []

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

    def _select(self, sql: str, items: Sequence[Any]) -> list[tuple[Any, ...]]:
        """Rows for `items` (at most CHUNK) in one query; none when the database fails."""
        if not items:
            return []
        try:
            marks = ",".join("?" * len(items))
            return self.connection.execute(sql.format(marks), (self.namespace, *items)).fetchall()
        except sqlite3.Error:
            return []

    def file_stats(self, paths: Sequence[str]) -> dict[str, tuple[Any, ...]]:
        """path -> (display, size, mtime_ns, ctime_ns, ino, dev, key, whether that key's entry
        exists) as recorded."""
        rows = self._select(
            "SELECT f.path, f.display, f.size, f.mtime_ns, f.ctime_ns, f.ino, f.dev, f.key, "
            "EXISTS (SELECT 1 FROM entries e WHERE e.namespace = f.namespace AND e.key = f.key) "
            "FROM files f WHERE f.namespace = ? AND f.path IN ({})",
            paths,
        )
        return {row[0]: row[1:] for row in rows}

    def existing(self, keys: Sequence[bytes]) -> set[bytes]:
        return {row[0] for row in self._select("SELECT key FROM entries WHERE namespace = ? AND key IN ({})", keys)}

    def values(self, keys: Sequence[bytes]) -> dict[bytes, bytes]:
        return dict(self._select("SELECT key, value FROM entries WHERE namespace = ? AND key IN ({})", keys))  # type: ignore[arg-type]

    def get(self, key: bytes) -> FileResult | None:
        data = self.values([key]).get(key)
        if data is not None:
            try:
                result = loads(data)
            except DECODE_ERRORS:
                result = None  # a damaged or foreign entry: scan again, the put replaces it
            if result is not None:
                self.hits += 1
                return result
        self.misses += 1
        return None

    def put(self, key: bytes, result: FileResult) -> None:
        try:
            value = dumps(result)
        except (TypeError, ValueError):
            return
        self._pending.append((self.namespace, key, value))
        if len(self._pending) >= COMMIT_EVERY:
            self.flush()

    def record_stat(self, path: str, display: str, stat: os.stat_result, key: bytes) -> None:
        self._pending_stats.append((self.namespace, path, display, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino, stat.st_dev, key))
        if len(self._pending_stats) >= COMMIT_EVERY:
            self.flush()

    def flush(self) -> None:
        rows, self._pending = self._pending, []
        stats, self._pending_stats = self._pending_stats, []
        if not rows and not stats:
            return
        try:
            with self.connection:
                if rows:
                    self.connection.executemany("INSERT OR REPLACE INTO entries (namespace, key, value) VALUES (?, ?, ?)", rows)
                if stats:
                    self.connection.executemany(
                        "INSERT OR REPLACE INTO files (namespace, path, display, size, mtime_ns, ctime_ns, ino, dev, key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", stats
                    )
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
        # No fsync, ever: it is a cache. With NORMAL, closing the last connection checkpoints the
        # WAL with two fsyncs — ~20 ms of every pre-commit run's wall time on these disks. An OS
        # crash or power loss may lose recent entries or damage the file; a damaged database is
        # moved aside and rebuilt (`ScanCache.open`), and a lost entry is a scan again.
        connection.execute("PRAGMA synchronous=OFF")
        connection.execute(
            "CREATE TABLE IF NOT EXISTS entries (namespace TEXT NOT NULL, key BLOB NOT NULL, value BLOB NOT NULL, "
            "PRIMARY KEY (namespace, key)) WITHOUT ROWID"
        )
        connection.execute(
            "CREATE TABLE IF NOT EXISTS files (namespace TEXT NOT NULL, path TEXT NOT NULL, display TEXT NOT NULL, size INTEGER NOT NULL, "
            "mtime_ns INTEGER NOT NULL, ctime_ns INTEGER NOT NULL, ino INTEGER NOT NULL, dev INTEGER NOT NULL, key BLOB NOT NULL, "
            "PRIMARY KEY (namespace, path)) WITHOUT ROWID"
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
            connection.execute("DELETE FROM files WHERE namespace = ?", (old,))
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


_now = time.time  # (the tests move the clock)


def _read(path: str) -> bytes | None:
    try:
        with open(path, "rb") as stream:
            return stream.read()
    except OSError:
        return None


def _keys(names: Sequence[str], display: Callable[[str], str], cache: ScanCache, stamps: array.array[int]) -> tuple[list[bytes | None], list[bool]]:
    """Pass 1 for a chunk of candidates (their paths): each one's entry key (None: not cacheable)
    and whether the cache holds it. A file whose stat matches the recorded one is not read; any
    other is read and hashed, and its stat recorded for next time unless it is racy.

    `stamps` gets four numbers per file — the size, mtime, ctime and inode its key was computed
    from (-1s: no key): pass 2 stores a scanned result only if the file still has that stat
    (`_unchanged`), so a file edited while the scan runs (a branch switch) never leaves the new
    bytes' result under the old bytes' key."""
    now = _now()  # before the stats: a change after this moment gets a later timestamp
    racy_ns = int((now - RACY_S) * 1e9)
    cwd = os.getcwd()
    infos: list[tuple[str, str, os.stat_result] | None] = []
    for name in names:
        try:
            stat = os.stat(name)
        except OSError:
            infos.append(None)
            continue
        if stat.st_size > MAX_BYTES:
            infos.append(None)
            continue
        infos.append((os.path.normpath(os.path.join(cwd, name)), display(name), stat))  # abspath, one getcwd
    recorded = cache.file_stats([info[0] for info in infos if info is not None])
    keys: list[bytes | None] = []
    known: set[bytes] = set()  # keys whose entry the stat lookup saw
    for info in infos:
        if info is None:
            keys.append(None)
            stamps.extend(_NO_STAMP)
            continue
        absolute, shown, stat = info
        settled = stat.st_mtime_ns < racy_ns and stat.st_ctime_ns < racy_ns
        stamps.extend((stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino))
        row = recorded.get(absolute)
        if row is not None and row[:6] == (shown, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino, stat.st_dev):
            keys.append(row[6])
            if row[7]:
                known.add(row[6])
            continue
        data = _read(absolute)
        if data is None or len(data) != stat.st_size:  # unreadable, or changed since the stat
            keys.append(None)
            continue
        key = entry_key(data, shown)
        keys.append(key)
        if settled:
            # Recorded now, hit or miss (a miss's entry follows when it is scanned): the stat was
            # taken before the read, so a change after it never matches this row.
            cache.record_stat(absolute, shown, stat, key)
    found = known | cache.existing([k for k in keys if k is not None and k not in known])
    return keys, [k is not None and k in found for k in keys]


def cached_scan(
    candidates: Sequence[Candidate],
    display: Callable[[str], str],
    scan: Callable[[Sequence[Candidate]], Iterator[FileResult]],
    cache: ScanCache,
    progress: Callable[[int], None] | None = None,
    rescan: Callable[[Candidate], FileResult] | None = None,
) -> Iterator[FileResult]:
    """Results in candidate order: hits from the cache, misses from `scan` (stored as they come).

    Two passes: the first finds each file's key and whether the cache holds it (in batches, keeping
    only the keys); the second streams the results, scanning the misses together (so a pool sees
    them all) and reading the hits' values one batch ahead. A hit whose entry vanished or does not
    decode in between is scanned again with `rescan` (in this process).
    """
    keys: list[bytes | None] = []
    hit: list[bool] = []
    stamps: array.array[int] = array.array("q")  # 4 per file, see _keys
    names = getattr(candidates, "names", None)  # discovery.CandidateList: no Candidate objects made
    if names is None:
        names = [os.fspath(c.path) for c in candidates]
    for start in range(0, len(names), CHUNK):
        chunk_keys, chunk_hits = _keys(names[start : start + CHUNK], display, cache, stamps)
        keys += chunk_keys
        hit += chunk_hits
    cache.flush()
    missed = [i for i, h in enumerate(hit) if not h]
    pick = getattr(candidates, "pick", None)  # discovery.CandidateList: stays compact
    if len(missed) == len(candidates):  # a cold run: no copy
        misses: Sequence[Candidate] = candidates
    else:
        misses = pick(missed) if pick is not None else [candidates[i] for i in missed]
    del missed
    fresh = scan(misses)
    values: dict[bytes, bytes] = {}
    ahead = 0  # the hits before this index have been fetched
    try:
        for index in range(len(keys)):
            key = keys[index]
            if hit[index]:
                assert key is not None
                if index >= ahead:
                    batch, ahead = _upcoming_hits(keys, hit, index)
                    values = cache.values(batch)
                result = None
                data = values.get(key)
                if data is not None:
                    try:
                        result = loads(data)
                    except DECODE_ERRORS:
                        result = None
                if result is not None:
                    cache.hits += 1
                else:  # gone or damaged since pass 1: scan it here, and store it afresh
                    cache.misses += 1
                    candidate = candidates[index]
                    result = rescan(candidate) if rescan is not None else next(iter(scan([candidate])))
                    cache.put(key, result)
            else:
                cache.misses += 1
                result = next(fresh)
                if key is not None and _unchanged(names[index], stamps, index):
                    cache.put(key, result)
            if progress:
                progress(1)
            yield result
    finally:
        cache.flush()


_NO_STAMP = (-1, -1, -1, -1)


def _unchanged(name: str, stamps: array.array[int], index: int) -> bool:
    """Does the file still have the stat its key was computed from? (If it changed between being
    hashed and being scanned, the result describes other bytes than the key: not stored.)"""
    expected = tuple(stamps[4 * index : 4 * index + 4])
    if expected == _NO_STAMP:
        return False
    try:
        stat = os.stat(name)
    except OSError:
        return False
    return expected == (stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino)


def _upcoming_hits(keys: list[bytes | None], hit: list[bool], start: int) -> tuple[list[bytes], int]:
    """The keys of the next CHUNK hits from `start`, and the index just past the last of them."""
    out: list[bytes] = []
    index = start
    while index < len(keys) and len(out) < CHUNK:
        if hit[index]:
            key = keys[index]
            assert key is not None
            out.append(key)
        index += 1
    return out, index
