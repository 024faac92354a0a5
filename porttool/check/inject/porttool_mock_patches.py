"""Integrations of the simulated neuron device with torch APIs (stdlib + torch only).

Split from ``porttool_neuron_mock`` (the tensor and the device): autocast kernels,
``torch.accelerator``, data factories, ``torch.load``, ``torch.compile``, the ``neuron`` process
group and the top-level model input signatures.
"""

from __future__ import annotations

import functools
import os
import warnings
from collections.abc import Callable
from typing import Any

import torch
from porttool_events import RECORDER, user_frame
from porttool_mock_compat import keep_torchscript_builtin
from porttool_neuron_mock import (
    _DEV,
    _FLOAT64,
    DEVICE_NAME,
    SAVED_STORAGES,
    SAVING,
    NeuronTensor,
    _is_neuron_device,
    _NeuronModule,
)

# -- autocast ------------------------------------------------------------------------------------
# PyTorch registers no Autocast kernels for PrivateUse1; a real backend ships its own.  These follow
# the CUDA policy for the ops that matter in training loops.
_LOWER_PRECISION = (
    "mm",
    "bmm",
    "addmm",
    "addbmm",
    "baddbmm",
    "matmul",
    "linear",
    "addmv",
    "mv",
    "conv1d",
    "conv2d",
    "conv3d",
    "conv_transpose1d",
    "conv_transpose2d.input",
    "conv_transpose3d.input",
    "_convolution",
    "convolution",
    "prelu",
    "scaled_dot_product_attention",
    "chain_matmul",
    "linalg_vecdot",
)
_FP32 = (
    "softmax.int",
    "log_softmax.int",
    "layer_norm",
    "group_norm",
    "nll_loss",
    "cross_entropy_loss",
    "mse_loss",
    "binary_cross_entropy_with_logits",
    "smooth_l1_loss",
    "exp",
    "log",
    "pow.Tensor_Scalar",
    "rsqrt",
    "norm.Scalar",
    "cumsum",
    "sum",
)
_AUTOCAST_KEYSET = torch._C.DispatchKeySet(torch._C.DispatchKey.AutocastPrivateUse1)


def _cast_args(args: Any, dtype: torch.dtype) -> Any:
    def cast(a: Any) -> Any:
        if isinstance(a, torch.Tensor):
            if a.is_floating_point() and a.dtype is not dtype and a.device.type == DEVICE_NAME:
                return a.to(dtype)
            return a
        if type(a) in (list, tuple):
            return type(a)(cast(x) for x in a)
        return a

    return cast(args)


_FLOAT32 = torch.float32
_LOW = (torch.bfloat16, torch.float16)
# PORTTOOL_MOCK_LOW_PRECISION_KERNELS=1: run the matmul family in bf16/fp16 on the CPU, as the
# mock did before (9x slower on CPUs without bf16 units, and no closer to NeuronCore numerics).
_NATIVE_LOW_PRECISION = os.environ.get("PORTTOOL_MOCK_LOW_PRECISION_KERNELS") == "1"


def _rounded_fp32(a: Any, dtype: torch.dtype) -> Any:
    """The value autocast would give the op (rounded to ``dtype``), held in fp32 for the CPU."""
    if isinstance(a, torch.Tensor):
        if a.is_floating_point() and a.device.type == DEVICE_NAME:
            if a.dtype is dtype:
                return a.to(_FLOAT32)
            if a.dtype is not _FLOAT32 or dtype in _LOW:
                return a.to(dtype).to(_FLOAT32)
        return a
    if type(a) in (list, tuple):
        return type(a)(_rounded_fp32(x, dtype) for x in a)
    return a


def _rounded_out(out: Any, dtype: torch.dtype) -> Any:
    if isinstance(out, torch.Tensor):
        return out.to(dtype) if out.is_floating_point() and out.dtype is not dtype else out
    if type(out) in (list, tuple):
        return type(out)(_rounded_out(o, dtype) for o in out)
    return out


def _autocast_kernel(op: Any, lower: bool) -> Callable[..., Any]:
    """The AutocastPrivateUse1 kernel of ``op``.

    Lower-precision ops (the matmul family) see their inputs rounded to the autocast dtype and
    return that dtype, as under CUDA's policy, but compute in fp32 on the CPU: the product of
    bf16-rounded inputs accumulated in fp32 and rounded once is what a bf16 matmul unit with fp32
    accumulation returns, and a CPU without bf16 units runs it at fp32 speed (issue 14: a GPT-2
    step took 45 s in bf16 kernels against 4.9 s in fp32).  Dtypes, placement and autograd
    (grads cast back through the same rounding) are what the native kernels give."""

    def kernel(*args: Any, **kwargs: Any) -> Any:
        dtype = torch.get_autocast_dtype(DEVICE_NAME) if lower else _FLOAT32
        with torch._C._ExcludeDispatchKeyGuard(_AUTOCAST_KEYSET):
            if not lower or dtype not in _LOW or _NATIVE_LOW_PRECISION:
                return op(*_cast_args(args, dtype), **_cast_args(kwargs, dtype))
            out = op(*_rounded_fp32(args, dtype), **_rounded_fp32(kwargs, dtype))
            return _rounded_out(out, dtype)

    return kernel


def _patch_accelerator() -> None:
    acc = torch.accelerator
    module = _NeuronModule

    def _active() -> bool:
        cur = torch._C._accelerator_getAccelerator()
        return cur is not None and cur.type == DEVICE_NAME

    def patch(name: str, replacement: Callable[..., Any]) -> None:
        original = getattr(acc, name, None)
        if original is None:
            return

        @functools.wraps(original)
        def patched(*args: Any, **kwargs: Any) -> Any:
            return replacement(*args, **kwargs) if _active() else original(*args, **kwargs)

        setattr(acc, name, patched)

    patch("synchronize", lambda device=None: None)
    patch("device_count", module.device_count)
    patch("current_device_index", module.current_device)
    patch("current_device_idx", module.current_device)
    patch("set_device_index", module.set_device)
    patch("set_device_idx", module.set_device)
    for name in ("memory_allocated", "max_memory_allocated", "memory_reserved",
                 "max_memory_reserved"):
        patch(name, lambda device=None: 0)
    patch("memory_stats", lambda device=None: {})
    for name in ("empty_cache", "reset_peak_memory_stats", "reset_accumulated_memory_stats"):
        patch(name, lambda device=None: None)


# -- factories with data -------------------------------------------------------------------------
def _patch_data_factories() -> None:
    # torch.tensor(data, device="neuron") trips an internal assert for Python backends: build on
    # CPU, then move.
    for name in ("tensor", "as_tensor", "asarray"):
        original = getattr(torch, name)

        def make(original: Callable[..., Any]) -> Callable[..., Any]:
            @functools.wraps(original)
            def factory(*args: Any, **kwargs: Any) -> Any:
                device = kwargs.get("device")
                if device is None or not _is_neuron_device(device):
                    return original(*args, **kwargs)
                kwargs["device"] = "cpu"
                requires_grad = kwargs.pop("requires_grad", False)
                out = original(*args, **kwargs)
                if type(out) is NeuronTensor:
                    return out
                moved = NeuronTensor(out.detach())
                if moved.dtype is _FLOAT64:
                    RECORDER.fp64_on_device(f"torch.{original.__name__}", user_frame(2))
                return moved.requires_grad_(True) if requires_grad else moved

            return factory

        patched = make(original)
        setattr(torch, name, patched)
        keep_torchscript_builtin(original, patched)


# -- torch.Event on the device -------------------------------------------------------------------
def _patch_event() -> None:
    """``torch.Event`` (what PT111 ports ``torch.cuda.Event`` to) on the simulated device.

    The Python device guard cannot implement event synchronisation or timing, so a neuron event
    keeps host-clock times instead: the mock runs every op synchronously, so they are exact for it
    (and say nothing about Neuron)."""
    import time

    base = torch.Event

    class Event(base):  # type: ignore[misc, valid-type]
        __doc__ = base.__doc__
        __module__ = "torch"

        def _mock(self) -> bool:
            return self.device is not None and self.device.type == DEVICE_NAME

        def record(self, stream: Any = None) -> None:
            if not self._mock():
                return super().record() if stream is None else super().record(stream)
            self._porttool_time = time.perf_counter()
            return None

        def synchronize(self) -> None:
            return None if self._mock() else super().synchronize()

        def query(self) -> bool:
            return True if self._mock() else super().query()

        def wait(self, stream: Any = None) -> None:
            if not self._mock():
                return super().wait() if stream is None else super().wait(stream)
            return None

        def elapsed_time(self, end_event: Any) -> float:
            if not self._mock():
                return super().elapsed_time(end_event)
            start = getattr(self, "_porttool_time", None)
            end = getattr(end_event, "_porttool_time", None)
            if start is None or end is None:
                raise RuntimeError("Both events must be recorded before calculating elapsed time.")
            return (end - start) * 1000.0

    Event.__name__ = Event.__qualname__ = "Event"
    torch.Event = Event


# -- pinned host memory (porttool_pin_memory.py) -------------------------------------------------
def _patch_pin_memory() -> None:
    import porttool_pin_memory

    porttool_pin_memory.install()


# -- torch.save / torch.load ---------------------------------------------------------------------
def _to_device_tree(obj: Any) -> Any:
    if type(obj) is torch.Tensor or type(obj) is torch.nn.Parameter:
        moved = obj.to(_DEV)
        return torch.nn.Parameter(moved, obj.requires_grad) if type(obj) is torch.nn.Parameter \
            else moved
    if isinstance(obj, dict):
        out = type(obj)() if type(obj) is not dict else {}
        for k, v in obj.items():
            out[k] = _to_device_tree(v)
        return out
    if type(obj) in (list, tuple):
        return type(obj)(_to_device_tree(v) for v in obj)
    return obj


_RESTORED: set[int] = set()  # data_ptr()s of storages torch.load restored from "neuron" tags


def _tag(storage: Any) -> str | None:
    if storage.device.type == "cpu" and storage.data_ptr() in SAVED_STORAGES:
        return str(_DEV)
    return None


def _restore(storage: Any, location: str) -> Any:
    if _is_neuron_device(location):
        _RESTORED.add(storage.data_ptr())
        return storage  # a CPU storage; load() wraps the tensors built on it
    return None


def _restore_tensor(t: Any) -> Any:
    if (type(t) is torch.Tensor or type(t) is torch.nn.Parameter) and t.device.type == "cpu" \
            and t.untyped_storage().data_ptr() in _RESTORED:
        moved = NeuronTensor(t.detach())
        if type(t) is torch.nn.Parameter:
            return torch.nn.Parameter(moved, t.requires_grad)
        return moved.requires_grad_(True) if t.requires_grad else moved
    return t


def _restore_tree(obj: Any) -> Any:
    if isinstance(obj, torch.nn.Module):
        return obj._apply(lambda t: _restore_tensor(t).detach() if t.device.type == "cpu" else t)
    if isinstance(obj, torch.Tensor):
        return _restore_tensor(obj)
    if isinstance(obj, dict):
        out = type(obj)() if type(obj) is not dict else {}
        for k, v in obj.items():
            out[k] = _restore_tree(v)
        return out
    if type(obj) in (list, tuple):
        return type(obj)(_restore_tree(v) for v in obj)
    return obj


def _patch_load() -> None:
    """torch.save/torch.load round-trip neuron tensors as on a device: saved with location
    "neuron:0", loaded back onto the device (or wherever map_location says)."""
    from torch import serialization

    serialization.register_package(5, _tag, _restore)  # before the CPU tagger (10)
    original_save = torch.save

    @functools.wraps(original_save)
    def save(*args: Any, **kwargs: Any) -> Any:
        SAVING[0] += 1
        try:
            return original_save(*args, **kwargs)
        finally:
            SAVING[0] -= 1
            if not SAVING[0]:
                SAVED_STORAGES.clear()

    torch.save = save
    original = torch.load

    @functools.wraps(original)
    def load(*args: Any, **kwargs: Any) -> Any:
        location = kwargs.get("map_location", args[1] if len(args) > 1 else None)
        if location is None:
            _RESTORED.clear()
            try:
                result = original(*args, **kwargs)
                return _restore_tree(result) if _RESTORED else result
            finally:
                _RESTORED.clear()
        if not _is_neuron_device(location):
            return original(*args, **kwargs)
        if len(args) > 1:
            args = (args[0], "cpu") + tuple(args[2:])
        else:
            kwargs["map_location"] = "cpu"
        return _to_device_tree(original(*args, **kwargs))

    torch.load = load


# -- torch.compile(backend="neuron") -------------------------------------------------------------
def _patch_compile() -> None:
    original = torch.compile

    @functools.wraps(original)
    def compile(model: Any = None, *args: Any, **kwargs: Any) -> Any:
        # No backend: torch-neuronx selects its own on a Neuron device, so the mock does too.
        backend = kwargs.get("backend")
        if backend not in (None, DEVICE_NAME) or args:
            return original(model, *args, **kwargs)
        frame = user_frame(2)
        site = f"{frame.f_code.co_filename}:{frame.f_lineno}" if frame is not None else "?"
        mode, dynamic = kwargs.get("mode"), kwargs.get("dynamic")
        RECORDER.compile_call({"site": site, "backend": backend or "default", "mode": mode,
                               "dynamic": dynamic, "fullgraph": kwargs.get("fullgraph", False)})
        if dynamic:
            raise RuntimeError(
                "torch.compile(backend='neuron') does not support dynamic=True: the Neuron "
                "backend compiles static shapes only (simulated by porttool's mock)"
            )
        if mode not in (None, "default"):
            warnings.warn(
                f"torch.compile(backend='neuron') ignores mode={mode!r}; only the default mode is "
                "supported (simulated by porttool's mock)",
                stacklevel=2,
            )
        if model is None:  # decorator form: @torch.compile(backend="neuron")
            return lambda fn: fn
        return model  # the mock runs the model eagerly

    torch.compile = compile


# -- distributed ---------------------------------------------------------------------------------
def _register_process_group_backend() -> None:
    import torch.distributed as dist

    if not dist.is_available() or DEVICE_NAME in dist.Backend.backend_list:
        return

    def create(store: Any, rank: int, size: int, timeout: Any) -> Any:
        from torch._C._distributed_c10d import ProcessGroupGloo

        RECORDER.note("process group 'neuron' is simulated with gloo")
        return ProcessGroupGloo(store, rank, size, timeout)

    dist.Backend.register_backend(DEVICE_NAME, create, devices=["cpu", DEVICE_NAME])
    from porttool_mock_compat import bind_neuron_collectives_to_cpu

    bind_neuron_collectives_to_cpu()


# -- top-level model input signatures -----------------------------------------------------------
_hooked: dict[int, Any] = {}


def _describe(value: Any, out: list[str]) -> None:
    if isinstance(value, torch.Tensor):
        out.append(f"{tuple(value.shape)}:{str(value.dtype).replace('torch.', '')}")
    elif type(value) in (list, tuple):
        for v in value:
            _describe(v, out)
    elif isinstance(value, dict):
        for k in sorted(value, key=str):
            _describe(value[k], out)


def _input_hook(module: Any, args: Any, kwargs: Any) -> None:
    parts: list[str] = []
    _describe(args, parts)
    _describe(kwargs, parts)
    RECORDER.model_input(type(module).__qualname__, ", ".join(parts) or "<no tensors>")


def _track_module(module: Any) -> None:
    if id(module) in _hooked:
        return
    for sub in module.modules():  # a parent moved later supersedes its children
        handle = _hooked.pop(id(sub), None)
        if handle is not None:
            handle.remove()
    _hooked[id(module)] = module.register_forward_pre_hook(_input_hook, with_kwargs=True)


def _patch_module_getstate() -> None:
    """Keep the mock's input hooks out of pickled modules (`torch.save(model)`, deepcopy): a
    checkpoint written under the mock must load anywhere, `weights_only=True` included."""
    from collections import OrderedDict

    original = torch.nn.Module.__getstate__

    @functools.wraps(original)
    def __getstate__(self: Any) -> Any:
        state = original(self)
        hooks = state.get("_forward_pre_hooks")
        if hooks and any(h is _input_hook for h in hooks.values()):
            ours = {k for k, h in hooks.items() if h is _input_hook}
            state["_forward_pre_hooks"] = OrderedDict(
                (k, h) for k, h in hooks.items() if k not in ours)
            with_kwargs = state.get("_forward_pre_hooks_with_kwargs")
            if with_kwargs is not None:
                state["_forward_pre_hooks_with_kwargs"] = type(with_kwargs)(
                    (k, v) for k, v in with_kwargs.items() if k not in ours)
        return state

    torch.nn.Module.__getstate__ = __getstate__  # type: ignore[method-assign]


def _patch_module_to() -> None:
    original = torch.nn.Module.to

    @functools.wraps(original)
    def to(self: Any, *args: Any, **kwargs: Any) -> Any:
        result = original(self, *args, **kwargs)
        try:
            first = next(iter(self.parameters()), None)
            if first is None:
                first = next(iter(self.buffers()), None)
            if type(first) is NeuronTensor or (first is not None and first.device.type == DEVICE_NAME):
                _track_module(self)
        except Exception:  # noqa: BLE001,S110
            pass
        return result

    torch.nn.Module.to = to  # type: ignore[method-assign]
    _patch_module_getstate()
