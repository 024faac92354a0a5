"""``torch.cuda`` and ``torch.accelerator`` as a CUDA host answers them, for the CPU redirect of
``porttool check --compare`` (stdlib + torch only; never imports porttool).

Called from the program (not from torch itself, which sees the truth: no CUDA), ``torch.cuda.*``
answers as a host with ``PORTTOOL_REDIRECT_DEVICE_COUNT`` (default: ``LOCAL_WORLD_SIZE`` under
torchrun, else 1) compute-capability-8.0 GPUs with bf16 (``PORTTOOL_REDIRECT_BF16=0``: without):
``is_available()`` True, ``synchronize()`` and memory management no-ops, memory counters 0,
events timed with the host clock, streams and device contexts stand-ins.  The CUDA random
generator *is* the CPU generator (``manual_seed`` seeds it, ``get_rng_state`` reads it), as on the
neuron mock.  A call with no CPU meaning (CUDA graphs, allocators, IPC) raises an error naming
it.  The program's calls are listed in one note of the run's report.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import os
import re
import time
from collections.abc import Callable
from typing import Any

import torch
from porttool_events import RECORDER, caller_is_user, user_frame

_CPU = torch.device("cpu")
_CUDA_DEVICE = re.compile(r"^\s*cuda(:\d+)?\s*$")
DEVICE_NAME = "porttool CPU redirect (simulated CUDA device)"
TOTAL_MEMORY = 80 * 1024**3
COUNT_ENV = "PORTTOOL_REDIRECT_DEVICE_COUNT"
BF16_ENV = "PORTTOOL_REDIRECT_BF16"
_noted: set[str] = set()


class CudaRedirectError(RuntimeError):
    pass


def note(kind: str, text: str) -> None:
    if kind in _noted:
        return
    _noted.add(kind)
    frame = _program_frame()
    where = f" (first at {frame.f_code.co_filename}:{frame.f_lineno})" if frame is not None else ""
    RECORDER.note(f"cpu redirect: {text}{where}")


def _program_frame() -> Any:
    """The innermost frame of the program itself (not torch, not another installed package)."""
    frame = user_frame(3)
    while frame is not None and ("site-packages" in frame.f_code.co_filename
                                 or "dist-packages" in frame.f_code.co_filename):
        frame = frame.f_back
    return frame


def is_cuda(device: Any) -> bool:
    if type(device) is str:
        return bool(_CUDA_DEVICE.match(device))
    if type(device) is torch.device:
        return device.type == "cuda"
    return False


def _device_count() -> int:
    for key in (COUNT_ENV, "LOCAL_WORLD_SIZE"):
        value = os.environ.get(key, "")
        if value.isdigit() and int(value) > 0:
            return int(value)
    return 1


def _index(device: Any = None) -> int:
    if device is None:
        return _current[0]
    if isinstance(device, int):
        return device
    if isinstance(device, str):
        device = torch.device(device)
    if isinstance(device, torch.device):
        return device.index if device.index is not None else _current[0]
    return int(device)


_current = [0]


# -- torch.cuda stand-ins ---------------------------------------------------------------------
class _Event:
    """``torch.cuda.Event`` on the CPU: timing from the host clock (every op already ran)."""

    def __init__(self, enable_timing: bool = False, blocking: bool = False, interprocess: bool = False,
                 **_: Any) -> None:
        self._t: float | None = None

    def record(self, stream: Any = None) -> None:
        self._t = time.perf_counter()

    def wait(self, stream: Any = None) -> None:
        pass

    def query(self) -> bool:
        return True

    def synchronize(self) -> None:
        pass

    def elapsed_time(self, end: Any) -> float:
        if self._t is None or getattr(end, "_t", None) is None:
            raise RuntimeError("Both events must be recorded before calculating elapsed time.")
        return (end._t - self._t) * 1000.0


class _Stream:
    """``torch.cuda.Stream`` on the CPU: every op already ran, in program order."""

    device = _CPU
    cuda_stream = 0

    def __init__(self, device: Any = None, priority: int = 0, **_: Any) -> None:
        pass

    def synchronize(self) -> None:
        pass

    def wait_stream(self, stream: Any) -> None:
        pass

    def wait_event(self, event: Any) -> None:
        pass

    def record_event(self, event: Any = None) -> Any:
        event = event or _Event()
        event.record()
        return event

    def query(self) -> bool:
        return True

    def __enter__(self) -> _Stream:
        return self

    def __exit__(self, *exc: Any) -> None:
        pass


_STREAM = _Stream()


class _Context:
    """``torch.cuda.device(i)`` / ``device_of(t)`` / ``stream(s)`` / ``StreamContext(s)``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: Any) -> None:
        pass


class _Properties:
    def __init__(self, index: int) -> None:
        self.name = DEVICE_NAME
        self.major, self.minor = 8, 0
        self.total_memory = TOTAL_MEMORY
        self.multi_processor_count = 108
        self.is_integrated = False
        self.is_multi_gpu_board = False
        self.index = index

    def __repr__(self) -> str:
        return (f"_CudaDeviceProperties(name='{self.name}', major=8, minor=0, "
                f"total_memory={self.total_memory // 1024**2}MB, multi_processor_count=108)")


def _set_device(device: Any) -> None:
    index = _index(device)
    if index >= _device_count():
        raise RuntimeError(f"CUDA error: invalid device ordinal {index} (the CPU redirect has "
                           f"{_device_count()} device(s); set {COUNT_ENV})")
    _current[0] = index


def _seed(seed: int) -> None:
    note("seed", "torch.cuda.manual_seed* seeded the CPU generator (the CUDA generator of the "
                 "CPU reference)")
    torch.manual_seed(seed)


def _graphs(*args: Any, **kwargs: Any) -> Any:
    raise CudaRedirectError(
        "porttool check --compare: CUDA graphs have no CPU meaning; the CPU reference cannot run "
        "this program (run the reference on a CUDA machine: --reference cuda)")


def _zero(*args: Any, **kwargs: Any) -> int:
    return 0


def _noop(*args: Any, **kwargs: Any) -> None:
    return None


_STANDINS: dict[str, Any] = {
    "is_available": lambda: True,
    "is_initialized": lambda: True,
    "init": _noop,
    "device_count": _device_count,
    "current_device": lambda: _current[0],
    "set_device": _set_device,
    "synchronize": _noop,
    "get_device_name": lambda device=None: DEVICE_NAME,
    "get_device_capability": lambda device=None: (8, 0),
    "get_device_properties": lambda device=None: _Properties(_index(device)),
    "is_bf16_supported": lambda including_emulation=True: os.environ.get(BF16_ENV, "1") != "0",
    "is_tf32_supported": lambda: True,
    "get_arch_list": lambda: ["sm_80"],
    "get_gencode_flags": lambda: "",
    "can_device_access_peer": lambda device, peer: True,
    "manual_seed": _seed,
    "manual_seed_all": _seed,
    "seed": lambda: _noop(torch.seed()),
    "seed_all": lambda: _noop(torch.seed()),
    "initial_seed": lambda: torch.initial_seed(),
    "get_rng_state": lambda device="cuda": torch.get_rng_state(),
    "set_rng_state": lambda new_state, device="cuda": torch.set_rng_state(new_state),
    "get_rng_state_all": lambda: [torch.get_rng_state() for _ in range(_device_count())],
    "set_rng_state_all": lambda new_states: torch.set_rng_state(list(new_states)[_current[0]]),
    "mem_get_info": lambda device=None: (TOTAL_MEMORY, TOTAL_MEMORY),
    "memory_stats": lambda device=None: {},
    "memory_stats_as_nested_dict": lambda device=None: {},
    "memory_summary": lambda device=None, abbreviated=False: "porttool CPU redirect: no CUDA memory\n",
    "memory_snapshot": lambda *a, **k: [],
    "list_gpu_processes": lambda device=None: "",
    "get_per_process_memory_fraction": lambda device=None: 1.0,
    "get_sync_debug_mode": lambda: 0,
    "current_stream": lambda device=None: _STREAM,
    "default_stream": lambda device=None: _STREAM,
    "set_stream": _noop,
    "stream": lambda stream=None: _Context(),
    "is_current_stream_capturing": lambda: False,
    "range_push": _zero,
    "range_pop": _zero,
    "range_start": _zero,
    "range_end": _noop,
    "mark": _noop,
    "range": lambda *a, **k: contextlib.nullcontext(),
    "custom_fwd": None,  # the originals work without CUDA
    "custom_bwd": None,
    "amp_definitely_not_available": lambda: False,
    "graph_pool_handle": _graphs,
    "make_graphed_callables": _graphs,
}
for _name in ("memory_allocated", "max_memory_allocated", "memory_reserved", "max_memory_reserved",
              "memory_cached", "max_memory_cached", "device_memory_used", "utilization",
              "temperature", "power_draw", "clock_rate", "memory_usage"):
    _STANDINS[_name] = _zero
for _name in ("empty_cache", "reset_peak_memory_stats", "reset_max_memory_allocated",
              "reset_max_memory_cached", "reset_accumulated_memory_stats", "ipc_collect",
              "set_per_process_memory_fraction", "set_sync_debug_mode",
              "reset_peak_host_memory_stats", "reset_accumulated_host_memory_stats"):
    _STANDINS[_name] = _noop
_CLASSES = {"Event": _Event, "Stream": _Stream, "ExternalStream": _Stream, "StreamContext": _Context,
            "device": _Context, "device_of": _Context}


_apis: list[str] = []


def _note_api(qualname: str) -> None:
    """One note lists every torch.cuda API the program called (updated as calls arrive)."""
    if qualname in _apis:
        return
    old = "cpu redirect: torch.cuda calls answered as a CUDA host: " + ", ".join(_apis)
    _apis.append(qualname)
    RECORDER.drop_note(old)
    RECORDER.note("cpu redirect: torch.cuda calls answered as a CUDA host: " + ", ".join(_apis))


def _wrap(qualname: str, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    if name in _STANDINS and _STANDINS[name] is None:
        return fn
    standin = _STANDINS.get(name)

    @functools.wraps(fn)
    def redirected(*args: Any, **kwargs: Any) -> Any:
        if not caller_is_user(2):
            return fn(*args, **kwargs)
        if standin is None:
            frame = user_frame(2)
            where = f" at {frame.f_code.co_filename}:{frame.f_lineno}" if frame is not None else ""
            raise CudaRedirectError(
                f"porttool check --compare: {qualname}(){where} has no CPU meaning in the CPU "
                "reference run; run the reference on a CUDA machine (--reference cuda)")
        _note_api(qualname)
        return standin(*args, **kwargs)

    redirected.__porttool_redirect__ = True  # type: ignore[attr-defined]
    return redirected


def _patch_namespace(module: Any, qualname: str, seen: set[int]) -> None:
    if id(module) in seen:
        return
    seen.add(id(module))
    for name in list(vars(module)):
        if name.startswith("_"):
            continue
        obj = getattr(module, name, None)
        if obj is None or getattr(obj, "__porttool_redirect__", False):
            continue
        full = f"{qualname}.{name}"
        if inspect.ismodule(obj):
            if getattr(obj, "__name__", "").startswith("torch.cuda"):
                _patch_namespace(obj, full, seen)
            continue
        if name in _CLASSES:
            setattr(module, name, _CLASSES[name])
            continue
        if inspect.isclass(obj):
            if name in ("CUDAGraph", "graph", "MemPool", "CUDAPluggableAllocator"):
                setattr(module, name, _graphs)
            continue  # storage/tensor types, errors, amp classes (patched at their base)
        if callable(obj) and str(getattr(obj, "__module__", "")).startswith("torch.cuda"):
            setattr(module, name, _wrap(full, name, obj))


def patch_cuda() -> None:
    import torch.cuda

    _patch_namespace(torch.cuda, "torch.cuda", set())
    for sub in ("amp", "nvtx", "memory", "random", "graphs", "streams"):
        mod = getattr(torch.cuda, sub, None)
        if mod is not None:
            _patch_namespace(mod, f"torch.cuda.{sub}", set())
    original_lazy_init = torch.cuda._lazy_init

    def _lazy_init() -> None:
        frame = user_frame(2)
        if frame is not None:
            raise CudaRedirectError(
                "porttool check --compare: a CUDA use at "
                f"{frame.f_code.co_filename}:{frame.f_lineno} escaped the CPU redirect "
                "(please report it); run the reference on a CUDA machine (--reference cuda)")
        original_lazy_init()

    torch.cuda._lazy_init = _lazy_init


def patch_accelerator() -> None:
    acc = getattr(torch, "accelerator", None)
    if acc is None:
        return
    answers = {
        "is_available": lambda: True,
        "current_accelerator": lambda check_available=False: torch.device("cuda"),
        "device_count": _device_count,
        "current_device_index": lambda: _current[0],
        "current_device_idx": lambda: _current[0],
        "set_device_index": _set_device,
        "set_device_idx": _set_device,
        "synchronize": lambda device=None: None,
        "empty_cache": _noop,
        "memory_allocated": lambda device=None: 0,
        "max_memory_allocated": lambda device=None: 0,
        "memory_reserved": lambda device=None: 0,
        "max_memory_reserved": lambda device=None: 0,
        "reset_peak_memory_stats": _noop,
    }
    for name, answer in answers.items():
        original = getattr(acc, name, None)
        if original is None:
            continue

        def make(original: Callable[..., Any], answer: Callable[..., Any]) -> Callable[..., Any]:
            @functools.wraps(original)
            def patched(*args: Any, **kwargs: Any) -> Any:
                if caller_is_user(2):
                    note("accelerator", "torch.accelerator answered as a CUDA host")
                    return answer(*args, **kwargs)
                return original(*args, **kwargs)

            return patched

        setattr(acc, name, make(original, answer))
