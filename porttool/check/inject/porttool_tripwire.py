"""CUDA tripwire for ``porttool check`` (stdlib + torch only; never imports porttool).

Records every ``torch.cuda.*`` call, ``.cuda()`` and ``"cuda"`` device reached at run time *from
user code* (the calling frame is not under torch's, the stdlib's or this folder), with file:line and
a rule code.  Calls made by torch itself (``DataLoader`` probing ``torch.cuda.is_available()``, ...)
pass through untouched.

What a reached call does next (chosen so that one run collects as many leftovers as possible while
never pretending a GPU exists -- the target host has none):

* queries answer as a host without a GPU: ``is_available()`` -> False, ``device_count()`` -> 0,
  ``is_initialized()`` / ``is_bf16_supported()`` -> False, memory counters -> 0;
* calls that are no-ops without a GPU (``manual_seed``, ``empty_cache``, ...) return None;
* everything else (``synchronize()``, ``set_device()``, ``.cuda()``, a tensor placed on ``"cuda"``,
  ``torch.cuda.Event()``, ...) raises ``RuntimeError`` naming the call, its file:line and the code.

Whatever happens, a reached call fails the check.
"""

from __future__ import annotations

import functools
import inspect
import json
import os
import sys
from collections.abc import Callable
from typing import Any

from porttool_events import RECORDER, caller_is_user, user_frame

# One place for the codes, so the lead can remap them.
RULE_CODES = {
    "cuda_method": "PT001",  # x.cuda(), module.cuda()
    "cuda_device": "PT002",  # a tensor placed on a "cuda" device
    "cuda_device_type": "PT204",  # torch.autocast("cuda"), torch.amp.GradScaler("cuda")
    "cuda_map_location": "PT005",  # torch.load(map_location="cuda")
    "cuda_api": "PT100",  # a torch.cuda.* API no more specific rule covers
    "nccl_backend": "PT501",  # init_process_group("nccl")
}
# The runner passes the rule registry's `torch.cuda.*` names -> codes (JSON), so a reached
# `torch.cuda.synchronize()` reports PT105 like the scanner does; PT100 is the fallback.
CODES_ENV = "PORTTOOL_CHECK_CUDA_CODES"


def _api_codes() -> dict[str, str]:
    try:
        data = json.loads(os.environ.get(CODES_ENV) or "{}")
    except ValueError:
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


_API_CODES = _api_codes()

_QUERY_FALLBACKS: dict[str, Any] = {
    "is_available": False,
    "device_count": 0,
    "is_initialized": False,
    "is_bf16_supported": False,
    "memory_allocated": 0,
    "max_memory_allocated": 0,
    "memory_reserved": 0,
    "max_memory_reserved": 0,
    "memory_cached": 0,
    "max_memory_cached": 0,
}
_NOOPS = frozenset(
    {
        "manual_seed",
        "manual_seed_all",
        "seed",
        "seed_all",
        "empty_cache",
        "reset_peak_memory_stats",
        "reset_max_memory_allocated",
        "reset_max_memory_cached",
        "reset_accumulated_memory_stats",
        "ipc_collect",
        "set_per_process_memory_fraction",
        "range_push",
        "range_pop",
        "mark",
    }
)


_CUDA_PACKAGE = os.sep + os.path.join("torch", "cuda") + os.sep


class CudaTripwireError(RuntimeError):
    pass


def _raise(api: str, code: str, site: tuple[str, int]) -> None:
    raise CudaTripwireError(
        f"porttool check: CUDA call reached: {api} at {site[0]}:{site[1]} ({code}). "
        "There is no CUDA device on the target; port this call."
    )


def _record(kind: str, api: str, depth: int = 3, qualname: str = "") -> tuple[str, tuple[str, int]]:
    code = _API_CODES.get(qualname) or RULE_CODES[kind]
    site = RECORDER.cuda_call(code, api, user_frame(depth))
    return code, site


def _wrap_function(qualname: str, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def tripwire(*args: Any, **kwargs: Any) -> Any:
        if not caller_is_user(2):
            return fn(*args, **kwargs)
        code, site = _record("cuda_api", f"{qualname}()", qualname=qualname)
        if name in _QUERY_FALLBACKS:
            return _QUERY_FALLBACKS[name]
        if name in _NOOPS:
            return None
        _raise(f"{qualname}()", code, site)

    tripwire.__porttool_tripwire__ = True  # type: ignore[attr-defined]
    return tripwire


def _wrap_class(qualname: str, cls: type) -> None:
    original_init = cls.__dict__.get("__init__")
    init = cls.__init__

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        if caller_is_user(2) and type(self) is cls:
            code, site = _record("cuda_api", f"{qualname}()", qualname=qualname)
            _raise(f"{qualname}()", code, site)
        init(self, *args, **kwargs)

    try:
        cls.__init__ = __init__  # type: ignore[misc]
        cls.__porttool_tripwire_init__ = original_init  # type: ignore[attr-defined]
    except (TypeError, AttributeError):
        pass  # a builtin type: leave it; using it still reaches a wrapped function or lazy init


def _patch_namespace(module: Any, qualname: str, seen: set[int]) -> None:
    if id(module) in seen:
        return
    seen.add(id(module))
    for name in list(vars(module)):
        if name.startswith("_"):
            continue
        obj = getattr(module, name, None)
        if obj is None or getattr(obj, "__porttool_tripwire__", False):
            continue
        full = f"{qualname}.{name}"
        if inspect.ismodule(obj):
            if getattr(obj, "__name__", "").startswith("torch.cuda"):
                _patch_namespace(obj, full, seen)
            continue
        if inspect.isclass(obj):
            if getattr(obj, "__module__", "").startswith("torch.cuda"):
                _wrap_class(full, obj)
            continue
        if callable(obj) and getattr(obj, "__module__", "") and str(obj.__module__).startswith(
            "torch.cuda"
        ):
            setattr(module, name, _wrap_function(full, name, obj))


def _device_is_cuda(device: Any) -> bool:
    if device is None:
        return False
    if isinstance(device, str):
        return device.split(":")[0].strip() == "cuda"
    return getattr(device, "type", None) == "cuda"


def install(torch: Any) -> None:
    """Install the tripwire into an imported torch."""
    import torch.cuda

    _patch_namespace(torch.cuda, "torch.cuda", set())
    for sub in ("amp", "nvtx", "memory", "random", "graphs", "streams"):
        mod = getattr(torch.cuda, sub, None)
        if mod is not None:
            _patch_namespace(mod, f"torch.cuda.{sub}", set())

    # .cuda() on tensors and modules.
    def _method(owner: str, original: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(original)
        def cuda(self: Any, *args: Any, **kwargs: Any) -> Any:
            if caller_is_user(2):
                code, site = _record("cuda_method", f"{owner}.cuda()")
                _raise(f"{owner}.cuda()", code, site)
            return original(self, *args, **kwargs)

        return cuda

    torch.Tensor.cuda = _method("Tensor", torch.Tensor.cuda)
    torch.nn.Module.cuda = _method("Module", torch.nn.Module.cuda)

    # A tensor placed on a "cuda" device: torch calls torch.cuda._lazy_init() from C++ first.
    original_lazy_init = torch.cuda._lazy_init

    def _lazy_init() -> None:
        # Called from C++ right before a tensor is placed on a CUDA device; the innermost user
        # frame is the line that placed it (directly, or through torch: `model.to("cuda")`).
        # torch.cuda's own functions call it too: those calls are recorded (or not) by the
        # wrappers of the torch.cuda API, and torch probes them under try/except.
        caller = sys._getframe(1).f_code.co_filename
        if _CUDA_PACKAGE not in caller and user_frame(2) is not None:
            code, site = _record("cuda_device", 'tensor placed on "cuda"')
            _raise('a tensor placed on "cuda"', code, site)
        original_lazy_init()

    torch.cuda._lazy_init = _lazy_init

    # torch.autocast("cuda") / torch.amp.GradScaler("cuda"): record, then continue on CPU terms.
    autocast_cls = torch.amp.autocast_mode.autocast
    autocast_init = autocast_cls.__init__

    def autocast__init__(self: Any, device_type: str, *args: Any, **kwargs: Any) -> None:
        if _device_is_cuda(device_type) and caller_is_user(2):
            _record("cuda_device_type", f'torch.autocast("{device_type}")')
        autocast_init(self, device_type, *args, **kwargs)

    autocast_cls.__init__ = autocast__init__  # type: ignore[method-assign]

    scaler_cls = torch.amp.grad_scaler.GradScaler
    scaler_init = scaler_cls.__init__

    def scaler__init__(self: Any, device: str = "cuda", *args: Any, **kwargs: Any) -> None:
        if _device_is_cuda(device) and caller_is_user(2) and type(self) is scaler_cls:
            _record("cuda_device_type", f'torch.amp.GradScaler("{device}")')
        scaler_init(self, device, *args, **kwargs)

    scaler_cls.__init__ = scaler__init__  # type: ignore[method-assign]

    # torch.load(map_location="cuda")
    original_load = torch.load

    @functools.wraps(original_load)
    def load(*args: Any, **kwargs: Any) -> Any:
        location = kwargs.get("map_location", args[1] if len(args) > 1 else None)
        if _device_is_cuda(location) and caller_is_user(2):
            code, site = _record("cuda_map_location", f"torch.load(map_location={location!r})")
            _raise(f"torch.load(map_location={location!r})", code, site)
        return original_load(*args, **kwargs)

    torch.load = load

    # init_process_group("nccl")
    try:
        import torch.distributed as dist

        if dist.is_available():
            original_init_pg = dist.init_process_group

            @functools.wraps(original_init_pg)
            def init_process_group(*args: Any, **kwargs: Any) -> Any:
                backend = kwargs.get("backend", args[0] if args else None)
                if isinstance(backend, str) and "nccl" in backend.lower() and caller_is_user(2):
                    code, site = _record("nccl_backend", f"init_process_group({backend!r})")
                    _raise(f"init_process_group({backend!r})", code, site)
                return original_init_pg(*args, **kwargs)

            dist.init_process_group = init_process_group
    except Exception:  # noqa: BLE001,S110
        pass
