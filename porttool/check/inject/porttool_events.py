"""Per-process event recorder for ``porttool check`` (stdlib only; never imports porttool).

Every process started under the runner (the command itself, torchrun workers, ``mp.spawn``
children, DataLoader workers) records what the check reports -- CUDA calls reached, host syncs,
fp64 on the device, top-level model input signatures, notes, sites the runner explains (``site``:
the line that asked for pinned memory, ...), the exception that ended it -- in
two files under ``PORTTOOL_CHECK_REPORT_DIR``:

* ``<pid>.events.jsonl``, a journal appended to as each event happens (one short line per event,
  ``{"t": table, "k": key, "c": count so far}``; 1-2 microseconds each, where replacing a
  file costs milliseconds).  It needs no handler to run, so it survives a SIGKILL: a process killed
  at the timeout inside a long native op, or with SIGTERM ignored, still reports what it reached.
  After ``_JOURNAL_EVERY`` events at one key only every ``_JOURNAL_EVERY``-th is journaled.
* ``<pid>.json``, the whole state, written when torch is imported, after a CUDA call, and at exit
  (atexit, at the end of a forked ``multiprocessing`` child, on SIGTERM) with ``"final": true``.

The runner reads the snapshot of a process that wrote its final one, else replays its journal.
"""

from __future__ import annotations

import atexit
import json
import os
import signal
import sys
import sysconfig
import threading
import traceback
from typing import Any

REPORT_DIR_ENV = "PORTTOOL_CHECK_REPORT_DIR"
IGNORE_PATHS_ENV = "PORTTOOL_CHECK_IGNORE_PATHS"
FORMAT_VERSION = 1
_MAX_SIGNATURES = 64
_JOURNAL_EVERY = 1024
_MAX_TRACEBACK_CHARS = 8000

_INJECT_DIR = os.path.dirname(os.path.abspath(__file__))
_lock = threading.RLock()


def _library_prefixes() -> tuple[str, ...]:
    prefixes = {_INJECT_DIR + os.sep}
    for key in ("stdlib", "platstdlib"):
        path = sysconfig.get_paths().get(key)
        if path:
            prefixes.add(os.path.realpath(path) + os.sep)
            prefixes.add(os.path.abspath(path) + os.sep)
    extra = os.environ.get(IGNORE_PATHS_ENV, "")
    prefixes.update(os.path.abspath(p) + os.sep for p in extra.split(os.pathsep) if p)
    return tuple(sorted(prefixes))


# Packages whose own probes of torch.cuda (or host syncs) are not the user's code.
_LIBRARY_PACKAGES = ("torch", "functorch", "torchgen", "torch_neuronx", "torch_xla", "triton")
_PREFIXES = _library_prefixes()
_is_library_cache: dict[str, bool] = {}


def is_library_file(filename: str) -> bool:
    """True for frames that belong to torch, the stdlib or this injected code (not user code)."""
    cached = _is_library_cache.get(filename)
    if cached is not None:
        return cached
    result = False
    if filename.startswith("<") and filename != "<string>" and filename != "<stdin>":
        result = True  # <frozen importlib._bootstrap>, <eval_with_key>, ...
    else:
        path = os.path.abspath(filename)
        parts = path.split(os.sep)
        in_site = "site-packages" in parts or "dist-packages" in parts
        if in_site:
            idx = max(i for i, p in enumerate(parts) if p in ("site-packages", "dist-packages"))
            result = idx + 1 < len(parts) and parts[idx + 1] in _LIBRARY_PACKAGES
        else:
            result = path.startswith(_PREFIXES)
        if not result and path.startswith(_INJECT_DIR + os.sep):
            result = True
    _is_library_cache[filename] = result
    return result


def user_frame(depth: int = 2) -> Any:
    """The innermost frame that is user code, or None (only library frames on the stack)."""
    try:
        frame = sys._getframe(depth)
    except ValueError:
        return None
    while frame is not None:
        if not is_library_file(frame.f_code.co_filename):
            return frame
        frame = frame.f_back
    return None


def caller_is_user(depth: int = 2) -> bool:
    """True when the direct caller (``depth`` frames up) is user code."""
    try:
        frame = sys._getframe(depth)
    except ValueError:
        return False
    return not is_library_file(frame.f_code.co_filename)


def site_of(frame: Any) -> tuple[str, int]:
    if frame is None:
        return ("<torch internals>", 0)
    return (frame.f_code.co_filename, frame.f_lineno)


class Recorder:
    """Mutable, process-local event store.  All public methods are cheap and thread safe."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.pid = os.getpid()
        self.mode = os.environ.get("PORTTOOL_CHECK_MODE", "")
        self.cuda_calls: dict[tuple[str, int, str, str], int] = {}
        self.host_syncs: dict[tuple[str, str, int], int] = {}
        self.fp64: dict[tuple[str, int, str], int] = {}
        self.model_inputs: dict[str, dict[str, int]] = {}
        self.compile_calls: list[dict[str, Any]] = []
        self.notes: dict[str, int] = {}
        self.sites: dict[tuple[str, str, int], int] = {}
        self.versions: dict[str, str] = {}
        self.device: dict[str, Any] = {}
        self.exception: dict[str, Any] | None = None
        self._dirty = False
        self._journal_fd: int | None = None
        self._journal_heads: dict[tuple[str, Any], bytes] = {}  # the line up to its count
        self._journal_failed = False

    # -- the journal -----------------------------------------------------------------------
    def _journal(self, table: str, key: Any, count: int) -> None:
        """Append one line (called with _lock held); never raises."""
        if self._journal_failed or (count > _JOURNAL_EVERY and count % _JOURNAL_EVERY):
            return
        try:
            if self._journal_fd is None:
                directory = os.environ.get(REPORT_DIR_ENV)
                if not directory:
                    self._journal_failed = True
                    return
                os.makedirs(directory, exist_ok=True)
                path = os.path.join(directory, f"{os.getpid()}.events.jsonl")
                self._journal_fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
                process = {"pid": os.getpid(), "ppid": os.getppid(), "rank": os.environ.get("RANK"),
                           "argv": list(sys.argv), "mode": self.mode}
                os.write(self._journal_fd, (json.dumps({"t": "process", "k": process, "c": 1}) + "\n").encode())
            cacheable = type(key) in (tuple, str)
            head = self._journal_heads.get((table, key)) if cacheable else None
            if head is None:
                head = json.dumps({"t": table, "k": key, "c": 0})[:-2].encode("utf-8", "replace")
                if cacheable:
                    self._journal_heads[(table, key)] = head
            os.write(self._journal_fd, head + b"%d}\n" % count)
        except Exception:  # noqa: BLE001 - never let reporting break the program under test
            self._journal_failed = True

    # -- recording -------------------------------------------------------------------------
    def cuda_call(self, code: str, api: str, frame: Any, *, flush: bool = True) -> tuple[str, int]:
        filename, line = site_of(frame)
        with _lock:
            key = (filename, line, code, api)
            self.cuda_calls[key] = self.cuda_calls.get(key, 0) + 1
            self._dirty = True
            self._journal("cuda_calls", key, self.cuda_calls[key])
        if flush:
            self.write()
        return filename, line

    def host_sync(self, kind: str, frame: Any) -> None:
        filename, line = site_of(frame)
        key = (kind, filename, line)
        with _lock:
            self.host_syncs[key] = self.host_syncs.get(key, 0) + 1
            self._dirty = True
            self._journal("host_syncs", key, self.host_syncs[key])

    def fp64_on_device(self, op: str, frame: Any) -> None:
        filename, line = site_of(frame)
        key = (filename, line, op)
        with _lock:
            self.fp64[key] = self.fp64.get(key, 0) + 1
            self._dirty = True
            self._journal("fp64", key, self.fp64[key])

    def model_input(self, module: str, signature: str) -> None:
        with _lock:
            sigs = self.model_inputs.setdefault(module, {})
            if signature not in sigs and len(sigs) >= _MAX_SIGNATURES:
                signature = "<more signatures not kept>"
            sigs[signature] = sigs.get(signature, 0) + 1
            self._dirty = True
            self._journal("model_inputs", (module, signature), sigs[signature])

    def compile_call(self, info: dict[str, Any]) -> None:
        with _lock:
            self.compile_calls.append(info)
            self._dirty = True
            self._journal("compile_calls", info, len(self.compile_calls))

    def note(self, text: str) -> None:
        with _lock:
            self.notes[text] = self.notes.get(text, 0) + 1
            self._dirty = True
            self._journal("notes", text, self.notes[text])

    def site(self, kind: str, site: tuple[str, int]) -> None:
        """A line the runner turns into a note (it knows what `porttool rewrite` does there)."""
        key = (kind, site[0], site[1])
        with _lock:
            self.sites[key] = self.sites.get(key, 0) + 1
            self._dirty = True
            self._journal("sites", key, self.sites[key])

    def drop_note(self, text: str) -> None:
        """Withdraw a note (one that a longer one replaces)."""
        with _lock:
            if self.notes.pop(text, None) is not None:
                self._journal("notes", text, 0)

    def uncaught(self, exc_type: Any, exc: Any, tb: Any) -> None:
        """The exception that ends this process (a torchrun worker's traceback, for the report)."""
        try:
            text = "".join(traceback.format_exception(exc_type, exc, tb))
            message = str(exc).strip()
        except Exception:  # noqa: BLE001 - a broken __str__ must not hide the original error
            text, message = "", ""
        with _lock:
            self.exception = {
                "type": getattr(exc_type, "__qualname__", str(exc_type)),
                "message": message.splitlines()[0][:500] if message else "",
                "traceback": text[-_MAX_TRACEBACK_CHARS:],
            }
            self._dirty = True
            self._journal("exception", self.exception, 1)

    # -- output ----------------------------------------------------------------------------
    def as_dict(self, final: bool = False) -> dict[str, Any]:
        with _lock:
            return {
                "format_version": FORMAT_VERSION,
                "final": final,
                "pid": self.pid,
                "ppid": os.getppid(),
                "argv": list(sys.argv),
                "mode": self.mode,
                "rank": os.environ.get("RANK"),
                "versions": dict(self.versions),
                "device": dict(self.device),
                "cuda_calls": [
                    {"file": f, "line": ln, "code": c, "api": a, "count": n}
                    for (f, ln, c, a), n in sorted(self.cuda_calls.items())
                ],
                "host_syncs": [
                    {"kind": k, "file": f, "line": ln, "count": n}
                    for (k, f, ln), n in sorted(self.host_syncs.items())
                ],
                "fp64": [
                    {"file": f, "line": ln, "op": op, "count": n}
                    for (f, ln, op), n in sorted(self.fp64.items())
                ],
                "model_inputs": {m: dict(s) for m, s in sorted(self.model_inputs.items())},
                "compile_calls": list(self.compile_calls),
                "notes": dict(sorted(self.notes.items())),
                "sites": [
                    {"kind": k, "file": f, "line": ln, "count": n}
                    for (k, f, ln), n in sorted(self.sites.items())
                ],
                "exception": self.exception,
            }

    def write(self, final: bool = False) -> None:
        directory = os.environ.get(REPORT_DIR_ENV)
        if not directory:
            return
        try:
            payload = json.dumps(self.as_dict(final), sort_keys=True)
            os.makedirs(directory, exist_ok=True)
            path = os.path.join(directory, f"{os.getpid()}.json")
            tmp = f"{path}.{threading.get_ident()}.tmp"  # a signal handler may write mid-write
            with open(tmp, "w", encoding="utf-8") as fh:
                fh.write(payload)
            os.replace(tmp, path)
        except Exception as exc:  # never let reporting break the program under test  # noqa: BLE001
            try:
                sys.stderr.write(f"porttool check: could not write report: {exc}\n")
            except Exception:  # noqa: BLE001,S110
                pass


RECORDER = Recorder()
_installed = False


def _after_fork_in_child() -> None:
    # The child starts with a copy of the parent's events; they belong to the parent's file.
    mode = RECORDER.mode
    versions, device = dict(RECORDER.versions), dict(RECORDER.device)
    inherited = RECORDER._journal_fd
    RECORDER.reset()  # the child journals to its own <pid> file
    RECORDER.mode, RECORDER.versions, RECORDER.device = mode, versions, device
    if inherited is not None:
        try:
            os.close(inherited)
        except OSError:
            pass


def write_final() -> None:
    RECORDER.write(final=True)


def _on_sigterm(signum: int, frame: Any) -> None:
    RECORDER.write(final=True)
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


def install_writers() -> None:
    """Write this process's file at exit, at the end of forked mp children and on SIGTERM."""
    global _installed
    if _installed:
        return
    _installed = True
    atexit.register(write_final)
    os.register_at_fork(after_in_child=_after_fork_in_child)
    previous_hook = sys.excepthook

    def excepthook(exc_type: Any, exc: Any, tb: Any) -> None:
        if not issubclass(exc_type, (KeyboardInterrupt, SystemExit)):
            RECORDER.uncaught(exc_type, exc, tb)
        previous_hook(exc_type, exc, tb)

    sys.excepthook = excepthook
    try:
        if (
            threading.current_thread() is threading.main_thread()
            and signal.getsignal(signal.SIGTERM) == signal.SIG_DFL
        ):
            signal.signal(signal.SIGTERM, _on_sigterm)
    except (ValueError, OSError):
        pass
    # Forked multiprocessing children leave through os._exit, which skips atexit.
    try:
        import multiprocessing.process as mp_process

        original = mp_process.BaseProcess._bootstrap

        def _bootstrap(self: Any, *args: Any, **kwargs: Any) -> Any:
            try:
                return original(self, *args, **kwargs)
            finally:
                RECORDER.write(final=True)

        mp_process.BaseProcess._bootstrap = _bootstrap  # type: ignore[method-assign]
    except Exception:  # noqa: BLE001,S110
        pass
