"""A CPU-backed SIMULATION of the native ``neuron`` device (stdlib + torch only).

Installed by ``sitecustomize`` when ``PORTTOOL_CHECK_MODE=mock``, right after ``import torch``.
It is not Neuron: no compiler, no NeuronCore numerics, no memory limits.  What it gives the code
under test is the *device contract* of a PyTorch PrivateUse1 backend named ``neuron``:

* ``torch.device("neuron")`` parses; tensors and modules report ``device.type == "neuron"``; a
  CPU tensor mixed into a neuron op raises PyTorch's own same-device error;
* ``torch.accelerator.*`` reports a neuron accelerator; ``torch.autocast("neuron")`` casts the
  matmul family to bf16/fp16; ``torch.amp.GradScaler("neuron")``; ``init_process_group("neuron")``
  (gloo underneath); ``torch.compile(backend="neuron")`` (eager stand-in that rejects
  ``dynamic=True`` and warns on non-default modes, as Neuron does);
* host syncs, fp64 on the device and top-level model input signatures are recorded.

How: ``_setup_privateuseone_for_python_backend("neuron")`` plus a wrapper tensor subclass holding
a CPU tensor; ``__torch_dispatch__`` runs every op on CPU and re-wraps; a boxed fallback for the
PrivateUse1 key catches factory calls (``torch.zeros(..., device="neuron")``).

Known limits: every neuron index maps to ``neuron:0`` (the Python device guard has one device);
memory stats are zeros; ``torch.Event`` times with the host
clock; streams are not simulated; no pinned host memory.
"""

from __future__ import annotations

from typing import Any

import torch
from porttool_events import RECORDER, user_frame
from torch.utils import backend_registration

DEVICE_NAME = "neuron"
if torch._C._get_privateuse1_backend_name() != DEVICE_NAME:
    torch.utils.rename_privateuse1_backend(DEVICE_NAME)
_CPU = torch.device("cpu")
_DEV = torch.device(DEVICE_NAME, 0)
_FLOAT64 = torch.float64
aten = torch.ops.aten

_SAME_DEVICE = (
    "Expected all tensors to be on the same device, but found at least two devices, "
    f"{_DEV} and cpu!"
)
# Ops that legitimately take tensors from two devices (copies, CPU index tensors).
_CROSS_DEVICE_OK = frozenset(
    {
        aten.copy_.default,
        aten._to_copy.default,
        aten._copy_from.default,
        aten._copy_from_and_resize.default,
        aten.index.Tensor,
        aten.index_put_.default,
        aten.index_put.default,
        aten._index_put_impl_.default,
        aten.set_.source_Tensor,
    }
)
# data_ptr()s of the CPU storages behind neuron tensors being saved (cleared after torch.save)
SAVED_STORAGES: set[int] = set()
SAVING = [0]  # torch.save calls in progress (only they tag storages)
_LOCAL_SCALAR = aten._local_scalar_dense.default
_TO_COPY = aten._to_copy.default
_COPY_ = aten.copy_.default


def _is_neuron_device(device: Any) -> bool:
    if isinstance(device, torch.device):
        return device.type == DEVICE_NAME
    if isinstance(device, str):
        return device.split(":")[0] == DEVICE_NAME
    if type(device) is int:  # an index means the current accelerator, as torch.device(0) does
        return device >= 0 and torch.device(device).type == DEVICE_NAME
    return False


class NeuronTensor(torch.Tensor):
    """A tensor on the simulated ``neuron:0`` device, backed by the CPU tensor ``_elem``."""

    _elem: torch.Tensor

    @staticmethod
    def __new__(cls, elem: torch.Tensor, requires_grad: bool = False) -> NeuronTensor:  # noqa: PYI034
        r = torch.Tensor._make_wrapper_subclass(
            cls,
            elem.size(),
            strides=elem.stride(),
            storage_offset=elem.storage_offset(),
            dtype=elem.dtype,
            layout=elem.layout,
            device=_DEV,
            requires_grad=requires_grad,
        )
        r._elem = elem
        return r

    def __repr__(self, *, tensor_contents: Any = None) -> str:  # type: ignore[override]
        # torch's own layout (device before dtype, grad_fn, "Parameter containing:"), with the
        # values printed from the CPU tensor behind this one.
        RECORDER.host_sync("print", user_frame(2))
        from torch._tensor_str import _str, _tensor_str

        if tensor_contents is None:
            tensor_contents = _tensor_str(self._elem.detach(), len("tensor("))
        text = _str(self, tensor_contents=tensor_contents)
        is_param = getattr(self, "_is_param", False)
        if is_param and text.startswith("Parameter(") and text.endswith(")"):
            text = text[len("Parameter("):-1]  # torch's repr of a Parameter *subclass*
        prefix = f"{type(self).__name__}("
        if text.startswith(prefix):  # the repr of an exact torch.Tensor, as on a real device
            text = "tensor(" + text[len(prefix):].replace("\n" + " " * len(prefix), "\n" + " " * 7)
        return "Parameter containing:\n" + text if is_param else text

    def __format__(self, format_spec: str) -> str:
        # Tensor.__format__ formats the value of a 0-dim tensor only for exact torch.Tensor.
        if self.dim() == 0:
            return self.item().__format__(format_spec)
        return object.__format__(self, format_spec)

    def tolist(self) -> Any:  # type: ignore[override]
        RECORDER.host_sync("tolist", user_frame(2))
        return self._elem.tolist()

    # Indexing with a Python list (`x[:, [-1]]`) makes torch build the index tensor on the
    # tensor's device from C++, which trips an internal assert for Python backends: build it on
    # the CPU instead (a CPU index tensor is accepted on every device, as for CUDA).
    def __getitem__(self, index: Any) -> Any:
        return super().__getitem__(_host_index(index))

    def __setitem__(self, index: Any, value: Any) -> None:
        super().__setitem__(_host_index(index), value)

    def new_tensor(self, data: Any, *, dtype: Any = None, device: Any = None,  # type: ignore[override]
                   requires_grad: bool = False, **kwargs: Any) -> Any:
        # C++ builds the tensor on this tensor's device, which trips the same internal assert
        # as torch.tensor(data, device="neuron"): go through the patched torch.tensor instead.
        dtype = self.dtype if dtype is None else dtype
        device = self.device if device is None else device
        if isinstance(data, torch.Tensor):
            return data.detach().to(device=device, dtype=dtype, copy=True).requires_grad_(
                requires_grad)
        return torch.tensor(data, dtype=dtype, device=device, requires_grad=requires_grad,
                            **kwargs)

    def numpy(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        raise TypeError(
            f"can't convert {_DEV} device type tensor to numpy. Use Tensor.cpu() to copy the "
            "tensor to host memory first."
        )

    def __reduce_ex__(self, protocol: Any) -> Any:
        elem = self._elem.detach()
        is_param = getattr(self, "_is_param", False)
        if not SAVING[0]:
            # pickle, copy.copy, multiprocessing: as torch pickles a storage-less PrivateUse1
            # tensor, rebuilt on the device it came from.
            if is_param:
                from collections import OrderedDict

                return (torch._utils._rebuild_parameter,
                        (NeuronTensor(elem), self.requires_grad, OrderedDict()))
            return (torch._utils._rebuild_device_tensor_from_cpu_tensor,
                    (elem, self.dtype, str(_DEV), self.requires_grad))
        # torch.save: pickled as the CPU tensor, its storage tagged "neuron:0" (see _patch_load),
        # as a Neuron device would; torch.load under the mock puts it back on the device.
        ptr = elem.untyped_storage().data_ptr()
        if ptr:
            SAVED_STORAGES.add(ptr)
        if is_param:  # nn.Parameter of a subclass: keep it a Parameter
            return torch.nn.Parameter(elem, self.requires_grad).__reduce_ex__(protocol)
        return elem.__reduce_ex__(protocol)

    @classmethod
    def __torch_dispatch__(cls, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        # The hot path of the mock: keep it flat (no closures, no pytree).
        originals: dict[int, Any] = {}
        state = [False]  # [a non-scalar CPU tensor was mixed in]
        new_args = tuple([_unwrap(a, originals, state) for a in args])
        new_kwargs = {k: _unwrap(v, originals, state) for k, v in kwargs.items()} if kwargs else {}
        if state[0] and func not in _CROSS_DEVICE_OK:
            raise RuntimeError(_SAME_DEVICE)

        if func is _LOCAL_SCALAR:
            RECORDER.host_sync("item", user_frame(2))
            return func(*new_args, **new_kwargs)
        to_host = False
        if func is _TO_COPY:
            dev = kwargs.get("device") if kwargs else None
            to_host = dev is not None and dev.type == "cpu"
        elif func is _COPY_ and type(args[0]) is not NeuronTensor:
            to_host = True
        if to_host:
            RECORDER.host_sync("cpu", user_frame(2))

        out = func(*new_args, **new_kwargs)
        t = type(out)
        if t is torch.Tensor:
            return _wrap_out(out, originals, to_host, func, args, kwargs)
        if t is list or t is tuple:
            return t([_wrap_out(o, originals, to_host, func, args, kwargs)
                      if type(o) is torch.Tensor else o for o in out])
        return out


def _is_index_list(value: Any) -> bool:
    return type(value) is list and all(
        type(v) is int or type(v) is bool or _is_index_list(v) for v in value)


def _host_index(index: Any) -> Any:
    if _is_index_list(index):
        return torch.tensor(index, device=_CPU) if index else index
    if type(index) is tuple and any(_is_index_list(i) for i in index):
        return tuple(torch.tensor(i, device=_CPU) if i and _is_index_list(i) else i for i in index)
    return index


def _unwrap(a: Any, originals: dict[int, Any], state: list[bool]) -> Any:
    t = type(a)
    if t is NeuronTensor:
        e = a._elem
        originals[id(e)] = a
        return e
    if t is torch.Tensor or t is torch.nn.Parameter:
        originals[id(a)] = a
        if a.device.type == "cpu" and a.dim() > 0:
            state[0] = True
        return a
    if t is list or t is tuple:
        return t([_unwrap(x, originals, state) for x in a])
    if t is torch.device and a.type == DEVICE_NAME:
        return _CPU
    return a


def _wrap_out(o: torch.Tensor, originals: dict[int, Any], to_host: bool, func: Any, args: Any,
              kwargs: Any) -> Any:
    orig = originals.get(id(o))
    if orig is not None:
        return orig
    if to_host:
        return o
    if o.dtype is _FLOAT64:
        _note_fp64(func, args, kwargs)
    return NeuronTensor(o)


def _note_fp64(func: Any, args: Any, kwargs: Any) -> None:
    """Record where fp64 *enters* the device (a cast, a factory, a copy), from user code only:
    ops on tensors that are already fp64 and torch's own internals (GradScaler) are not sites."""
    for a in list(args) + list((kwargs or {}).values()):
        if type(a) is NeuronTensor and a.dtype is _FLOAT64:
            return
    frame = user_frame(3)
    if frame is not None and frame is _innermost_python_frame():
        RECORDER.fp64_on_device(str(func), frame)


def _innermost_python_frame() -> Any:
    import sys

    frame = sys._getframe(2)
    while frame is not None and frame.f_code.co_filename == __file__:
        frame = frame.f_back
    return frame


def _wrap_cpu(t: torch.Tensor) -> torch.Tensor:
    if t.dtype is _FLOAT64:
        RECORDER.fp64_on_device("factory", user_frame(3))
    return NeuronTensor(t)


def _factory_fallback(op: Any, *args: Any, **kwargs: Any) -> Any:
    """Boxed PrivateUse1 kernel: ops that reach the device key without a NeuronTensor argument
    (factories such as ``empty``/``full``/``randn``) run on CPU and are wrapped."""
    if "device" in kwargs:
        kwargs["device"] = _CPU
    kwargs.pop("pin_memory", None) if kwargs.get("pin_memory") is False else None
    args = tuple(a._elem if type(a) is NeuronTensor else a for a in args)
    out = op(*args, **kwargs)
    if type(out) is torch.Tensor:
        return _wrap_cpu(out)
    if isinstance(out, (list, tuple)):
        return type(out)(_wrap_cpu(o) if type(o) is torch.Tensor else o for o in out)
    return out


# -- kernels -----------------------------------------------------------------------------------
_libraries: list[Any] = []


def _register_kernels() -> None:
    fallback_lib = torch.library.Library("_", "IMPL")
    fallback_lib.fallback(_factory_fallback, "PrivateUse1")
    fallback_lib.fallback(torch.library.fallthrough_kernel, "AutocastPrivateUse1")
    _libraries.append(fallback_lib)
    from porttool_mock_patches import _FP32, _LOWER_PRECISION, _autocast_kernel

    aten_lib = torch.library.Library("aten", "IMPL")
    for names, lower in ((_LOWER_PRECISION, True), (_FP32, False)):
        for qual in names:
            name, _, overload = qual.partition(".")
            packet = getattr(aten, name, None)
            if packet is None:
                continue
            op = getattr(packet, overload or "default", None)
            if op is None:
                continue
            try:
                aten_lib.impl(qual, _autocast_kernel(op, lower), "AutocastPrivateUse1")
            except RuntimeError:
                pass  # kernel already registered by this torch build
    # Recurrent layers: on a non-CPU device ATen picks fused cell kernels (_thnn_fused_lstm_cell)
    # that have no CPU implementation; run torch's own decompositions (differentiable) instead.
    from torch._decomp import decomposition_table

    for qual in ("lstm.input", "lstm.data", "gru.input", "gru.data", "rnn_tanh.input",
                 "rnn_tanh.data", "rnn_relu.input", "rnn_relu.data"):
        name, _, overload = qual.partition(".")
        op = getattr(getattr(aten, name, None), overload, None)
        decomposition = decomposition_table.get(op) if op is not None else None
        if decomposition is not None:
            try:
                aten_lib.impl(qual, decomposition, "AutogradPrivateUse1")
            except RuntimeError:
                pass
    _libraries.append(aten_lib)



# -- the device module (torch.neuron) ------------------------------------------------------------
class _Event:
    """Minimal torch.Event stand-in for the simulated device (timing from the host clock)."""

    def __init__(self, device: Any = None, *, enable_timing: bool = False, **_: Any) -> None:
        self.device = _DEV
        self._t: float | None = None

    def record(self, stream: Any = None) -> None:
        import time

        self._t = time.perf_counter()

    def wait(self, stream: Any = None) -> None:
        pass

    def query(self) -> bool:
        return True

    def synchronize(self) -> None:
        pass

    def elapsed_time(self, end: _Event) -> float:
        if self._t is None or end._t is None:
            raise RuntimeError("Both events must be recorded before calculating elapsed time.")
        return (end._t - self._t) * 1000.0


class _NeuronModule:
    """``torch.neuron`` for the simulated device."""

    _current = 0

    @staticmethod
    def is_available() -> bool:
        return True

    @staticmethod
    def is_initialized() -> bool:
        return True

    @staticmethod
    def _is_in_bad_fork() -> bool:
        return False

    @staticmethod
    def _lazy_init() -> None:
        pass

    @staticmethod
    def device_count() -> int:
        return _mock_device_count()

    @classmethod
    def current_device(cls) -> int:
        return cls._current

    @classmethod
    def set_device(cls, device: Any) -> None:
        cls._current = _set_index(device)

    @staticmethod
    def synchronize(device: Any = None) -> None:
        pass

    @staticmethod
    def manual_seed(seed: int) -> None:
        pass

    @staticmethod
    def manual_seed_all(seed: int) -> None:
        pass

    @staticmethod
    def get_rng_state(device: Any = None) -> torch.Tensor:
        return torch.get_rng_state()

    @staticmethod
    def set_rng_state(state: torch.Tensor, device: Any = None) -> None:
        torch.set_rng_state(state)

    @staticmethod
    def get_amp_supported_dtype() -> list[torch.dtype]:
        return [torch.bfloat16, torch.float16]

    @staticmethod
    def is_bf16_supported() -> bool:
        return True

    @staticmethod
    def memory_allocated(device: Any = None) -> int:
        return 0

    max_memory_allocated = memory_allocated
    memory_reserved = memory_allocated
    max_memory_reserved = memory_allocated

    @staticmethod
    def empty_cache() -> None:
        pass

    @staticmethod
    def reset_peak_memory_stats(device: Any = None) -> None:
        pass

    @staticmethod
    def memory_stats(device: Any = None) -> dict[str, int]:
        return {}

    Event = _Event


def _mock_device_count() -> int:
    import os

    for key in ("PORTTOOL_MOCK_DEVICE_COUNT", "LOCAL_WORLD_SIZE"):
        value = os.environ.get(key)
        if value and value.isdigit() and int(value) > 0:
            return int(value)
    return 1


def _set_index(device: Any) -> int:
    if isinstance(device, torch.device):
        index = device.index or 0
    elif isinstance(device, str):
        index = torch.device(device).index or 0
    else:
        index = int(device)
    count = _mock_device_count()
    if index >= count:
        raise RuntimeError(f"Invalid device index {index}: the mock has {count} neuron device(s)")
    if index > 0:
        RECORDER.note(f"neuron:{index} requested; the mock places every tensor on neuron:0")
    return index


# -- install -------------------------------------------------------------------------------------
_installed = False


def install() -> None:
    global _installed
    if _installed:
        return
    _installed = True
    # What backend_registration._setup_privateuseone_for_python_backend does, after our rename.
    torch.utils.generate_methods_for_privateuse1_backend()
    torch._register_device_module(DEVICE_NAME, _NeuronModule())
    torch._C._acc.register_python_privateuseone_hook(backend_registration._DummyPrivateUse1Hook())
    torch._C._acc.register_python_privateuseone_device_guard(
        backend_registration._DummyDeviceGuard()
    )
    _register_kernels()
    from porttool_mock_patches import (
        _patch_accelerator,
        _patch_compile,
        _patch_data_factories,
        _patch_event,
        _patch_load,
        _patch_module_to,
        _patch_pin_memory,
        _register_process_group_backend,
    )

    _patch_accelerator()
    _patch_data_factories()
    _patch_load()
    _patch_compile()
    _patch_module_to()
    _patch_pin_memory()
    _patch_event()
    import porttool_mock_compat

    porttool_mock_compat.patch_module_apply()
    try:
        _register_process_group_backend()
    except Exception as exc:  # keep the device usable without distributed  # noqa: BLE001
        RECORDER.note(f"process group 'neuron' unavailable in the mock: {exc}")
    RECORDER.device = {"type": DEVICE_NAME, "simulated": True, "device_count": _mock_device_count()}
