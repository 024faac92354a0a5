"""Numeric records for ``porttool check --compare`` (stdlib + torch only; never imports porttool).

Installed right after ``import torch`` when ``PORTTOOL_RECORDS_DIR`` is set, in every process of the
command (torchrun workers, ``mp.spawn`` children, DataLoader workers).  Each process that records
something appends JSON lines to ``<PORTTOOL_RECORDS_DIR>/<PORTTOOL_CHECK_MODE>/p<pid>.jsonl``
(``porttool_records_io``); porttool folds them into the versioned per-rank record files
(``porttool.check.compare.raw_lines``, ``records``).

What is recorded (``kind`` of a line):

* ``process``: the first line of a file (pid, ppid, argv, mode, torch version);
* ``backward``: the scalar passed to each ``Tensor.backward()`` / ``torch.autograd.backward()``
  (the loss), with the ``GradScaler`` scale that multiplied it, its dtype and the call site;
* ``step``: each optimizer step (global optimizer hooks): total gradient L2 norm the optimizer
  sees, the pre-clip norm ``clip_grad_norm_`` returned in this step, parameter count and dtypes,
  learning rate, whether ``GradScaler`` skipped the step (inf/nan gradients), and a digest of the
  CPU random generator's state after the step;
* ``output``: a digest (shape, dtype, mean, std, max-abs) of each tensor in the output of every
  top-level call of a module that owns parameters (the model; DDP and ``torch.compile`` wrappers
  are named by the module they wrap);
* ``autocast`` / ``grad_scaler`` / ``settings``: the precision the program asked for (first use of
  each configuration per call site), what the run actually used, and the TF32 switches;
* ``modules``: at exit, the source files of the user modules the process imported (so porttool
  can tell when the original imported the port's code, e.g. through an editable install).

Reading a value must not disturb what ``porttool check`` reports: values of the mock's neuron
tensors are read from the CPU tensor behind them (no host sync is recorded); on a real device the
read is a real device-to-host copy, once per recorded value.
"""

from __future__ import annotations

import atexit
import hashlib
import math
import os
import sys
import threading
import weakref
from typing import Any

import torch
from porttool_events import is_library_file
from porttool_records_io import (
    RECORDS_DIR_ENV,
    WRITER,
    digest,
    host,
    number,
    scalar,
    call_site,
    tensors_of,
)

_local = threading.local()


# -- backward -----------------------------------------------------------------------------------
# id(scaled loss) -> (weak reference, scale).  Not a WeakKeyDictionary: its lookups compare
# tensors with ==, which on the mock is an op and a recorded host sync.
_SCALED: dict[int, tuple[Any, float]] = {}
_COUNTS = {"backward": 0, "step": 0}
_OPTIMIZERS: dict[int, int] = {}
_CLIP: list[float] = []  # pre-clip norms returned by clip_grad_norm_ since the last step


def _record_backward(tensors: Any) -> None:
    items = [tensors] if isinstance(tensors, torch.Tensor) else list(tensors or ())
    site = call_site()
    for t in items:
        if not isinstance(t, torch.Tensor):
            continue
        event: dict[str, Any] = {"kind": "backward", "n": _COUNTS["backward"],
                                 "steps_before": _COUNTS["step"], "dtype": str(t.dtype).replace("torch.", ""),
                                 "shape": list(t.shape), "site": site}
        if t.numel() == 1 and not t.is_complex():
            value = scalar(t)
            entry = _SCALED.pop(id(t), None)
            scale = entry[1] if entry is not None and entry[0]() is t else None
            event["value"] = number(value)
            event["scale"] = scale
            event["loss"] = number(value / scale) if scale else number(value)
        else:
            event["value"] = event["loss"] = event["scale"] = None
        _COUNTS["backward"] += 1
        WRITER.emit(event)


def _patch_backward() -> None:
    original = torch.Tensor.backward

    def backward(self: Any, *args: Any, **kwargs: Any) -> Any:
        if getattr(_local, "in_backward", False):
            return original(self, *args, **kwargs)
        _record_backward(self)
        _local.in_backward = True
        try:
            return original(self, *args, **kwargs)
        finally:
            _local.in_backward = False

    backward.__doc__ = original.__doc__
    torch.Tensor.backward = backward  # type: ignore[method-assign]

    import torch.autograd as autograd

    original_fn = autograd.backward

    def autograd_backward(tensors: Any, *args: Any, **kwargs: Any) -> Any:
        if getattr(_local, "in_backward", False):
            return original_fn(tensors, *args, **kwargs)
        _record_backward(tensors)
        _local.in_backward = True
        try:
            return original_fn(tensors, *args, **kwargs)
        finally:
            _local.in_backward = False

    autograd_backward.__doc__ = original_fn.__doc__
    autograd.backward = autograd_backward


# -- optimizer steps ------------------------------------------------------------------------------
def _params(optimizer: Any) -> list[torch.Tensor]:
    seen: set[int] = set()
    out = []
    for group in optimizer.param_groups:
        for p in group["params"]:
            if id(p) not in seen:
                seen.add(id(p))
                out.append(p)
    return out


def _grad_norm(params: list[torch.Tensor]) -> tuple[float, int]:
    by_device: dict[Any, list[torch.Tensor]] = {}
    with_grad = 0
    for p in params:
        g = p.grad
        if g is None:
            continue
        with_grad += 1
        if g.is_sparse:
            g = g.coalesce().values()
        elem = getattr(g, "_elem", None)
        raw = elem if isinstance(elem, torch.Tensor) and g.device.type != "cpu" else g
        by_device.setdefault(raw.device, []).append(raw.detach())
    total = 0.0
    for device, grads in by_device.items():
        if device.type == "cpu":
            norms = [torch.linalg.vector_norm(g, dtype=torch.float64) for g in grads]
        else:  # no fp64 on some devices: fp32 norms there, summed in fp64 on the host
            norms = [torch.linalg.vector_norm(g.float()) for g in grads]
        stacked = host(torch.stack(norms)).double()
        total += float((stacked * stacked).sum().item())
    return math.sqrt(total), with_grad


def _lr(optimizer: Any) -> Any:
    try:
        lr = optimizer.param_groups[0].get("lr")
        return number(float(host(lr).item() if isinstance(lr, torch.Tensor) else lr))
    except Exception:  # noqa: BLE001
        return None


def _rng_digest() -> str:
    return hashlib.sha1(torch.get_rng_state().numpy().tobytes()).hexdigest()[:16]


def _step_event(optimizer: Any, skipped: bool, grad_scale: Any = None) -> dict[str, Any]:
    params = _params(optimizer)
    norm, with_grad = _grad_norm(params)
    if isinstance(grad_scale, torch.Tensor):
        # GradScaler hands a fused optimizer still-scaled gradients and unscales them inside
        # step(): the norm the update uses is the scaled norm over the scale
        scale = scalar(grad_scale)
        norm = norm / scale if scale else norm
    dtypes: dict[str, int] = {}
    for p in params:
        key = str(p.dtype).replace("torch.", "")
        dtypes[key] = dtypes.get(key, 0) + p.numel()
    index = _OPTIMIZERS.setdefault(id(optimizer), len(_OPTIMIZERS))
    event = {"kind": "step", "n": _COUNTS["step"], "optimizer": index,
             "optimizer_class": type(optimizer).__name__, "backward_before": _COUNTS["backward"],
             "grad_norm": number(norm), "grads": with_grad, "tensors": len(params),
             "params": sum(p.numel() for p in params), "param_dtypes": dtypes,
             "lr": _lr(optimizer), "skipped": skipped,
             "clip_norm": number(_CLIP[-1]) if _CLIP else None}
    _CLIP.clear()
    return event


def _patch_optimizers() -> None:
    from torch.optim.optimizer import (
        register_optimizer_step_post_hook,
        register_optimizer_step_pre_hook,
    )

    pending: dict[int, dict[str, Any]] = {}

    def pre(optimizer: Any, args: Any, kwargs: Any) -> None:
        _local.stepped = True
        _settings_event()
        # GradScaler and a fused optimizer: the scale and the inf flag ride on the optimizer
        found_inf = getattr(optimizer, "found_inf", None)
        skipped = isinstance(found_inf, torch.Tensor) and scalar(found_inf) != 0
        pending[id(optimizer)] = _step_event(optimizer, skipped=skipped,
                                             grad_scale=getattr(optimizer, "grad_scale", None))

    def post(optimizer: Any, args: Any, kwargs: Any) -> None:
        event = pending.pop(id(optimizer), None)
        if event is not None:
            event["rng"] = _rng_digest()
            _COUNTS["step"] += 1
            WRITER.emit(event)

    register_optimizer_step_pre_hook(pre)
    register_optimizer_step_post_hook(post)

    scaler_cls = torch.amp.grad_scaler.GradScaler
    original_maybe_step = getattr(scaler_cls, "_maybe_opt_step", None)
    if original_maybe_step is not None:

        def _maybe_opt_step(self: Any, optimizer: Any, *args: Any, **kwargs: Any) -> Any:
            _local.stepped = False
            result = original_maybe_step(self, optimizer, *args, **kwargs)
            if not _local.stepped:  # inf/nan gradients: the scaler skipped optimizer.step()
                _settings_event()
                event = _step_event(optimizer, skipped=True)
                event["rng"] = _rng_digest()
                _COUNTS["step"] += 1
                WRITER.emit(event)
            return result

        scaler_cls._maybe_opt_step = _maybe_opt_step

    original_scale = scaler_cls.scale

    def scale(self: Any, outputs: Any) -> Any:
        result = original_scale(self, outputs)
        if isinstance(result, torch.Tensor) and result is not outputs and self._scale is not None:
            try:
                if len(_SCALED) > 64:  # scaled tensors never backwarded
                    for key in [k for k, (ref, _) in _SCALED.items() if ref() is None]:
                        del _SCALED[key]
                _SCALED[id(result)] = (weakref.ref(result), scalar(self._scale))
            except Exception:  # noqa: BLE001,S110
                pass
        return result

    scaler_cls.scale = scale

    original_init = scaler_cls.__init__

    def scaler_init(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        WRITER.emit({"kind": "grad_scaler", "device": str(getattr(self, "_device", "?")),
                     "requested_device": getattr(self, "_porttool_requested_device", None),
                     "enabled": bool(getattr(self, "_enabled", False)),
                     "init_scale": getattr(self, "_init_scale", None), "site": call_site()})

    scaler_cls.__init__ = scaler_init

    import torch.nn.utils as nn_utils

    for owner in (nn_utils, getattr(nn_utils, "clip_grad", None)):
        original_clip = getattr(owner, "clip_grad_norm_", None)
        if original_clip is None or getattr(original_clip, "__porttool_records__", False):
            continue

        def make(original_clip: Any) -> Any:
            def clip_grad_norm_(*args: Any, **kwargs: Any) -> Any:
                total = original_clip(*args, **kwargs)
                try:
                    _CLIP.append(scalar(total))
                except Exception:  # noqa: BLE001,S110
                    pass
                return total

            clip_grad_norm_.__porttool_records__ = True  # type: ignore[attr-defined]
            clip_grad_norm_.__doc__ = original_clip.__doc__
            return clip_grad_norm_

        setattr(owner, "clip_grad_norm_", make(original_clip))


# -- top-level model outputs ------------------------------------------------------------------
_OUTPUTS: dict[str, int] = {}


def model_name(module: Any) -> str:
    inner = module
    for _ in range(4):  # DDP(compile(model)) and friends
        nxt = getattr(inner, "_orig_mod", None)
        if nxt is None and type(inner).__name__ in ("DistributedDataParallel", "DataParallel"):
            nxt = getattr(inner, "module", None)
        if nxt is None:
            nxt = getattr(inner, "_fsdp_wrapped_module", None)
        if nxt is None:
            break
        inner = nxt
    return type(inner).__qualname__


def _patch_modules() -> None:
    from torch.nn.modules.module import (
        register_module_forward_hook,
        register_module_forward_pre_hook,
    )

    compiling = getattr(getattr(torch, "compiler", None), "is_compiling", lambda: False)

    def pre(module: Any, args: Any) -> None:
        if compiling():
            return
        depth = getattr(_local, "depth", 0)
        if depth == 0:
            _local.top = module
        _local.depth = depth + 1

    def post(module: Any, args: Any, output: Any) -> None:
        if compiling():
            return
        depth = getattr(_local, "depth", 0) - 1
        _local.depth = max(depth, 0)
        if depth > 0 or getattr(_local, "top", None) is not module:
            return
        _local.top = None
        if output is None or getattr(_local, "in_backward", False):
            return  # an exception in forward, or a recomputation (activation checkpointing)
        try:
            if next(iter(module.parameters()), None) is None:
                return  # a loss module or a functional wrapper, not a model
            found: list[tuple[str, torch.Tensor]] = []
            tensors_of(output, "", found)
            if not found:
                return
            name = model_name(module)
            n = _OUTPUTS.get(name, 0)
            _OUTPUTS[name] = n + 1
            WRITER.emit({"kind": "output", "model": name, "n": n, "steps_before": _COUNTS["step"],
                         "backward_before": _COUNTS["backward"], "training": bool(module.training),
                         "tensors": [digest(t, path or "out") for path, t in found]})
        except Exception as exc:  # noqa: BLE001
            WRITER.emit({"kind": "note", "text": f"an output digest failed: {exc!r}"})

    register_module_forward_pre_hook(pre)
    register_module_forward_hook(post, always_call=True)


# -- precision ----------------------------------------------------------------------------------
_AUTOCAST_SEEN: set[tuple[Any, ...]] = set()


def _patch_autocast() -> None:
    cls = torch.amp.autocast_mode.autocast
    original_enter = cls.__enter__

    def __enter__(self: Any) -> Any:
        result = original_enter(self)
        try:
            site = call_site()
            dtype = str(getattr(self, "fast_dtype", None)).replace("torch.", "")
            requested = getattr(self, "_porttool_requested", None)
            key = (site, self.device, dtype, bool(self._enabled), requested)
            if key not in _AUTOCAST_SEEN:
                _AUTOCAST_SEEN.add(key)
                WRITER.emit({"kind": "autocast", "device_type": self.device, "dtype": dtype,
                             "enabled": bool(self._enabled), "site": site,
                             "requested_device_type": requested[0] if requested else self.device,
                             "requested_dtype": requested[1] if requested else dtype,
                             "requested_enabled": requested[2] if requested else bool(self._enabled)})
        except Exception:  # noqa: BLE001,S110
            pass
        return result

    cls.__enter__ = __enter__


def _settings_event() -> None:
    if getattr(_settings_event, "done", False):
        return
    _settings_event.done = True  # type: ignore[attr-defined]
    _collect_modules()
    try:
        matmul_tf32 = bool(torch.backends.cuda.matmul.allow_tf32)
    except Exception:  # noqa: BLE001
        matmul_tf32 = None
    WRITER.emit({"kind": "settings", "matmul_allow_tf32": matmul_tf32,
                 "cudnn_allow_tf32": bool(torch.backends.cudnn.allow_tf32),
                 "float32_matmul_precision": torch.get_float32_matmul_precision(),
                 "default_dtype": str(torch.get_default_dtype()).replace("torch.", "")})


_MODULE_FILES: set[str] = set()


def _collect_modules() -> None:
    for module in list(sys.modules.values()):
        path = getattr(module, "__file__", None)
        if isinstance(path, str) and os.path.isabs(path) and not is_library_file(path) \
                and "site-packages" not in path and "dist-packages" not in path:
            _MODULE_FILES.add(path)


def _write_modules() -> None:
    if WRITER.pid != os.getpid():
        return  # this process recorded nothing
    _collect_modules()  # (at exit, __main__ may have lost its __file__: the first step saw it)
    WRITER.emit({"kind": "modules", "files": sorted(_MODULE_FILES), "dropped_events": WRITER.dropped})


_installed = False


def install(torch_module: Any = None) -> None:
    """Install the recording hooks into the imported torch (idempotent)."""
    global _installed
    if _installed or not os.environ.get(RECORDS_DIR_ENV):
        return
    _installed = True
    _patch_backward()
    _patch_optimizers()
    _patch_modules()
    _patch_autocast()
    atexit.register(_write_modules)
