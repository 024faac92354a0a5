"""Writing the numeric records of ``porttool check --compare`` and reading tensor values for them
(stdlib + torch only; never imports porttool).

Each process that records appends JSON lines to ``<PORTTOOL_RECORDS_DIR>/<PORTTOOL_CHECK_MODE>/
p<pid>.jsonl`` (first line: the process), flushed at once, so the records survive a crash, a kill
or ``os._exit``; a forked child opens its own file.  Values of the mock's neuron tensors are read
from the CPU tensor behind them: the mock records no host sync for porttool's own reads.
"""

from __future__ import annotations

import json
import math
import os
import sys
import threading
from typing import Any

import torch
from porttool_events import user_frame

RECORDS_DIR_ENV = "PORTTOOL_RECORDS_DIR"
FORMAT = 1
_MAX_EVENTS = 200_000  # per process; beyond this, events are counted, not written
_MAX_OUTPUT_TENSORS = 8

_lock = threading.RLock()


class _Writer:
    def __init__(self) -> None:
        self.pid = -1
        self.fh: Any = None
        self.events = 0
        self.dropped = 0

    def emit(self, event: dict[str, Any]) -> None:
        directory = os.environ.get(RECORDS_DIR_ENV)
        if not directory:
            return
        with _lock:
            try:
                if self.pid != os.getpid():  # first event, or a forked child
                    self.pid = os.getpid()
                    self.events = self.dropped = 0
                    folder = os.path.join(directory, os.environ.get("PORTTOOL_CHECK_MODE") or "run")
                    os.makedirs(folder, exist_ok=True)
                    self.fh = open(os.path.join(folder, f"p{self.pid}.jsonl"), "a", encoding="utf-8")
                    self._write(_process_header())
                if self.events >= _MAX_EVENTS:
                    self.dropped += 1
                    return
                self.events += 1
                event["rank"] = rank()
                self._write(event)
            except Exception as exc:  # never break the program under test  # noqa: BLE001
                try:
                    sys.stderr.write(f"porttool check: could not write a record: {exc}\n")
                except Exception:  # noqa: BLE001,S110
                    pass

    def _write(self, event: dict[str, Any]) -> None:
        self.fh.write(json.dumps(event, sort_keys=True, allow_nan=False, default=str) + "\n")
        self.fh.flush()


WRITER = _Writer()


def _process_header() -> dict[str, Any]:
    return {
        "kind": "process",
        "format": FORMAT,
        "pid": os.getpid(),
        "ppid": os.getppid(),
        "argv": list(sys.argv),
        "cwd": os.getcwd(),
        "mode": os.environ.get("PORTTOOL_CHECK_MODE", ""),
        "torch": str(torch.__version__),
        "rank_env": os.environ.get("RANK"),
    }


def rank() -> int | None:
    try:
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized():
            return int(dist.get_rank())
    except Exception:  # noqa: BLE001,S110
        pass
    value = os.environ.get("RANK", "")
    return int(value) if value.isdigit() else None


def number(value: float) -> Any:
    """A float as JSON allows it (non-finite values as strings)."""
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return value


def call_site() -> str | None:
    """The innermost frame of the program (not torch, not another installed package)."""
    frame = user_frame(3)
    while frame is not None and ("site-packages" in frame.f_code.co_filename
                                 or "dist-packages" in frame.f_code.co_filename):
        frame = frame.f_back
    return None if frame is None else f"{frame.f_code.co_filename}:{frame.f_lineno}"


# -- reading values without a recorded host sync ------------------------------------------------
def host(t: torch.Tensor) -> torch.Tensor:
    """``t`` detached and on the CPU.  The mock's neuron tensors keep their CPU data in ``_elem``:
    read that (no dispatch, so the mock records no host sync for porttool's own reads)."""
    elem = getattr(t, "_elem", None)
    if isinstance(elem, torch.Tensor) and t.device.type != "cpu":
        return elem.detach()
    t = t.detach()
    return t if t.device.type == "cpu" else t.to("cpu")


def scalar(t: torch.Tensor) -> float:
    return float(host(t).double().reshape(-1)[0].item())


def digest(t: torch.Tensor, path: str) -> dict[str, Any]:
    h = host(t)
    out: dict[str, Any] = {"path": path, "shape": list(h.shape), "dtype": str(t.dtype).replace("torch.", "")}
    if h.is_complex() or h.dtype is torch.bool or h.numel() == 0 or h.layout != torch.strided:
        out.update(mean=None, std=None, max_abs=None)
        return out
    x = h.double()
    out["mean"] = number(float(x.mean().item()))
    out["std"] = number(float(x.std(unbiased=False).item())) if x.numel() > 1 else 0.0
    out["max_abs"] = number(float(x.abs().max().item()))
    return out


def tensors_of(value: Any, path: str, found: list[tuple[str, torch.Tensor]], depth: int = 0) -> None:
    if len(found) >= _MAX_OUTPUT_TENSORS or depth > 4:
        return
    if isinstance(value, torch.Tensor):
        found.append((path, value))
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            tensors_of(v, f"{path}[{i}]", found, depth + 1)
    elif isinstance(value, dict):
        for k in value:
            tensors_of(value[k], f"{path}[{k!r}]", found, depth + 1)
