"""Per-process event recorder for ``porttool check`` (stdlib only; never imports porttool).

Every process started under the runner (the command itself, torchrun workers, ``mp.spawn``
children, DataLoader workers) records what the check reports -- CUDA calls reached, host syncs,
fp64 on the device, top-level model input signatures, notes -- and writes them as one JSON file
``<PORTTOOL_CHECK_REPORT_DIR>/<pid>.json``.  The file is written at exit (atexit, at the end of a
forked ``multiprocessing`` child, on SIGTERM) and immediately after each CUDA call is recorded, so
the events that fail a check survive a crash or a kill.
"""

from __future__ import annotations

import atexit
import json
import os
import signal
import sys
import sysconfig
import threading
from typing import Any

REPORT_DIR_ENV = "PORTTOOL_CHECK_REPORT_DIR"
IGNORE_PATHS_ENV = "PORTTOOL_CHECK_IGNORE_PATHS"
FORMAT_VERSION = 1
_MAX_SIGNATURES = 64

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
        self.versions: dict[str, str] = {}
        self.device: dict[str, Any] = {}
        self._dirty = False

    # -- recording -------------------------------------------------------------------------
    def cuda_call(self, code: str, api: str, frame: Any, *, flush: bool = True) -> tuple[str, int]:
        filename, line = site_of(frame)
        with _lock:
            key = (filename, line, code, api)
            self.cuda_calls[key] = self.cuda_calls.get(key, 0) + 1
            self._dirty = True
        if flush:
            self.write()
        return filename, line

    def host_sync(self, kind: str, frame: Any) -> None:
        filename, line = site_of(frame)
        key = (kind, filename, line)
        with _lock:
            self.host_syncs[key] = self.host_syncs.get(key, 0) + 1
            self._dirty = True

    def fp64_on_device(self, op: str, frame: Any) -> None:
        filename, line = site_of(frame)
        key = (filename, line, op)
        with _lock:
            self.fp64[key] = self.fp64.get(key, 0) + 1
            self._dirty = True

    def model_input(self, module: str, signature: str) -> None:
        with _lock:
            sigs = self.model_inputs.setdefault(module, {})
            if signature in sigs or len(sigs) < _MAX_SIGNATURES:
                sigs[signature] = sigs.get(signature, 0) + 1
            else:
                sigs["<more signatures not kept>"] = sigs.get("<more signatures not kept>", 0) + 1
            self._dirty = True

    def compile_call(self, info: dict[str, Any]) -> None:
        with _lock:
            self.compile_calls.append(info)
            self._dirty = True

    def note(self, text: str) -> None:
        with _lock:
            self.notes[text] = self.notes.get(text, 0) + 1
            self._dirty = True

    # -- output ----------------------------------------------------------------------------
    def as_dict(self) -> dict[str, Any]:
        with _lock:
            return {
                "format_version": FORMAT_VERSION,
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
            }

    def write(self) -> None:
        directory = os.environ.get(REPORT_DIR_ENV)
        if not directory:
            return
        try:
            payload = json.dumps(self.as_dict(), sort_keys=True)
            os.makedirs(directory, exist_ok=True)
            final = os.path.join(directory, f"{os.getpid()}.json")
            tmp = final + ".tmp"
            with open(tmp, "w", encoding="utf-8") as fh:
                fh.write(payload)
            os.replace(tmp, final)
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
    RECORDER.reset()
    RECORDER.mode, RECORDER.versions, RECORDER.device = mode, versions, device


def _on_sigterm(signum: int, frame: Any) -> None:
    RECORDER.write()
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


def install_writers() -> None:
    """Write this process's file at exit, at the end of forked mp children and on SIGTERM."""
    global _installed
    if _installed:
        return
    _installed = True
    atexit.register(RECORDER.write)
    os.register_at_fork(after_in_child=_after_fork_in_child)
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
                RECORDER.write()

        mp_process.BaseProcess._bootstrap = _bootstrap  # type: ignore[method-assign]
    except Exception:  # noqa: BLE001,S110
        pass
