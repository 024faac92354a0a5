"""Run an unported CUDA program on the CPU: the reference run of ``porttool check --compare``
where no CUDA device is present (stdlib + torch only; never imports porttool).

Installed when ``PORTTOOL_CHECK_MODE=redirect``, right after ``import torch``, in every process of
the command.  The program takes its *GPU code path* -- the one it takes on the machine it was
written for -- and every CUDA use is given its CPU meaning:

* devices: ``"cuda"``, ``"cuda:N"``, ``torch.device("cuda", N)`` and integer device indices, as
  arguments or ``device=`` of any torch function or tensor method, become the CPU (a torch
  function mode, so factories, ``.to()``, ``nn.Module.to()``/``.cuda()`` and ``with
  torch.device("cuda")`` are covered); ``.cuda()`` and ``.pin_memory()`` return the tensor;
  ``torch.set_default_device("cuda")`` sets the CPU; ``torch.load(map_location=...)`` loads to the
  CPU; tensors report ``device.type == "cpu"`` (code testing ``x.is_cuda`` takes its CPU branch);
* ``torch.cuda.*`` called from the program answers as a CUDA host would
  (``porttool_cuda_stand_ins``); calls made by torch itself see the truth (no CUDA);
* ``torch.accelerator.*`` called from the program reports that CUDA host as well;
* ``torch.autocast("cuda", dtype)`` / ``torch.cuda.amp.autocast`` -> ``torch.autocast("cpu", dtype)``
  with the *same* dtype (float16 stays float16; no dtype means CUDA's default, float16), and with
  CUDA's op policy where the CPU's differs (``porttool_cuda_autocast``: layer_norm, softmax, exp,
  sum ... in float32, einsum, mv and the RNN cells lowered); ``GradScaler("cuda")`` -> ``"cpu"``;
* ``init_process_group("nccl")`` (and ``"cuda:nccl,..."``) -> gloo, ``device_id=`` dropped;
  ``DistributedDataParallel(device_ids=..., output_device=...)`` on a CPU module drops them;
  ``barrier(device_ids=...)`` drops them;
* ``torch.compile`` runs the model eagerly (as the mock does): the CPU compiler is slow and the
  numbers compared are eager ones.

Each kind of redirect is noted once in the run's report (``porttool_events``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import torch
from porttool_cuda_stand_ins import (
    _device_count,
    is_cuda,
    note,
    patch_accelerator,
    patch_cuda,
)
from porttool_events import RECORDER
from torch.overrides import TorchFunctionMode

_CPU = torch.device("cpu")


# -- devices: a torch function mode --------------------------------------------------------------
def _same(func: Any, args: Any, kwargs: Any) -> Any:
    note("cuda-method", ".cuda() / .pin_memory() returned the CPU tensor itself")
    return args[0]


def _false(func: Any, args: Any, kwargs: Any) -> Any:
    return False


def _none(func: Any, args: Any, kwargs: Any) -> Any:
    return None


def _int_device_positional(func: Any, args: Any, kwargs: Any) -> Any:
    # tensor.to(0) / module.to(0): an integer is a CUDA device index
    if len(args) > 1 and type(args[1]) is int:
        note("device", "CUDA devices ran on the CPU")
        args = (args[0], _CPU, *args[2:])
    elif len(args) == 1 and type(args[0]) is int:  # torch._C._nn._parse_to(0)
        note("device", "CUDA devices ran on the CPU")
        args = (_CPU,)
    return _call(func, args, kwargs)


def _type(func: Any, args: Any, kwargs: Any) -> Any:
    if len(args) > 1 and isinstance(args[1], str) and args[1].startswith("torch.cuda."):
        note("legacy-type", "tensor.type('torch.cuda.*Tensor') used the CPU type")
        args = (args[0], "torch." + args[1][len("torch.cuda."):], *args[2:])
    return _call(func, args, kwargs)


def _call(func: Any, args: Any, kwargs: Any) -> Any:
    if kwargs:
        device = kwargs.get("device")
        if device is not None and (is_cuda(device) or type(device) is int):
            kwargs = dict(kwargs)
            kwargs["device"] = _CPU
            note("device", "CUDA devices ran on the CPU")
    if args:
        for a in args:
            if type(a) is str or type(a) is torch.device:
                args = tuple(_CPU if is_cuda(a) else a for a in args)
                break
    return func(*args, **kwargs)


def _as_is(func: Any, args: Any, kwargs: Any) -> Any:
    # torch.device("cuda", 0) stays a CUDA device object: code testing device.type keeps its GPU
    # path, and every use of the device (a factory, .to()) is redirected
    return func(*args, **kwargs)


_SPECIAL: dict[Any, Callable[..., Any]] = {
    torch.device: _as_is,
    torch.Tensor.cuda: _same,
    torch.Tensor.pin_memory: _same,
    torch.Tensor.is_pinned: _false,
    torch.Tensor.record_stream: _none,
    torch.Tensor.to: _int_device_positional,
    torch._C._nn._parse_to: _int_device_positional,
    torch.Tensor.type: _type,
}


class CudaToCpuMode(TorchFunctionMode):
    """Every torch function / tensor method call: CUDA device arguments become the CPU."""

    def __torch_function__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        special = _SPECIAL.get(func)
        if special is not None:
            return special(func, args, kwargs or {})
        return _call(func, args, kwargs or {})



# -- autocast, GradScaler ---------------------------------------------------------------------
def _dtype_name(dtype: Any) -> str:
    return str(dtype).replace("torch.", "")


_POLICY: list[str] = []


def _patch_amp() -> None:
    import porttool_cuda_autocast

    _POLICY.extend(porttool_cuda_autocast.install())
    cls = torch.amp.autocast_mode.autocast
    original_init = cls.__init__

    def __init__(self: Any, device_type: str, dtype: Any = None, enabled: bool = True,
                 cache_enabled: Any = None) -> None:
        requested = None
        if is_cuda(device_type) or device_type == "cuda":
            if dtype is None:
                dtype = torch.get_autocast_dtype("cuda")
            requested = ("cuda", _dtype_name(dtype), bool(enabled))
            if enabled:
                note(f"autocast-{dtype}",
                     f"torch.autocast('cuda', {_dtype_name(dtype)}) ran as torch.autocast('cpu', "
                     f"{_dtype_name(dtype)}) with CUDA's op policy ({len(_POLICY)} ops cast as "
                     "CUDA casts them; float32 matmuls stay full float32, no TF32)")
            device_type = "cpu"
        original_init(self, device_type, dtype=dtype, enabled=enabled, cache_enabled=cache_enabled)
        if requested is not None:
            self._porttool_requested = requested

    cls.__init__ = __init__

    scaler_cls = torch.amp.grad_scaler.GradScaler
    scaler_init = scaler_cls.__init__

    def scaler__init__(self: Any, device: str = "cuda", *args: Any, **kwargs: Any) -> None:
        requested = None
        if is_cuda(device) or device == "cuda":
            requested = "cuda"
            device = "cpu"
            note("grad-scaler", "GradScaler('cuda') ran as GradScaler('cpu')")
        scaler_init(self, device, *args, **kwargs)
        if requested is not None:
            self._porttool_requested_device = requested

    scaler_cls.__init__ = scaler__init__


# -- distributed ---------------------------------------------------------------------------------
def _cpu_backend(backend: Any) -> Any:
    if isinstance(backend, str) and "nccl" in backend.lower():
        note("nccl", f"process group backend {backend!r} ran as 'gloo'")
        return "gloo"
    return backend


def _patch_distributed() -> None:
    import torch.distributed as dist

    if not dist.is_available():
        return
    import torch.distributed.distributed_c10d as c10d

    original_init = c10d.init_process_group

    @functools.wraps(original_init)
    def init_process_group(*args: Any, **kwargs: Any) -> Any:
        if args:
            args = (_cpu_backend(args[0]), *args[1:])
        if "backend" in kwargs:
            kwargs["backend"] = _cpu_backend(kwargs["backend"])
        device_id = kwargs.get("device_id")
        if device_id is not None and (is_cuda(device_id) or isinstance(device_id, int)):
            kwargs.pop("device_id")
        if kwargs.get("pg_options") is not None and "ProcessGroupNCCL" in repr(type(kwargs["pg_options"])):
            kwargs.pop("pg_options")
        return original_init(*args, **kwargs)

    original_new_group = c10d.new_group

    @functools.wraps(original_new_group)
    def new_group(*args: Any, **kwargs: Any) -> Any:
        if "backend" in kwargs:
            kwargs["backend"] = _cpu_backend(kwargs["backend"])
        return original_new_group(*args, **kwargs)

    original_barrier = c10d.barrier

    @functools.wraps(original_barrier)
    def barrier(*args: Any, **kwargs: Any) -> Any:
        kwargs.pop("device_ids", None)
        return original_barrier(*args, **kwargs)

    for owner in (dist, c10d):
        owner.init_process_group = init_process_group
        owner.new_group = new_group
        owner.barrier = barrier

    from torch.nn.parallel import DistributedDataParallel

    ddp_init = DistributedDataParallel.__init__

    @functools.wraps(ddp_init)
    def ddp__init__(self: Any, module: Any, *args: Any, **kwargs: Any) -> None:
        if args:  # device_ids, output_device given by position
            args = (None, None, *args[2:]) if len(args) > 1 else (None,)
        for key in ("device_ids", "output_device"):
            if kwargs.get(key) is not None:
                kwargs[key] = None
                note("ddp-device-ids", "DistributedDataParallel's device_ids/output_device were "
                                       "dropped (a CPU module)")
        ddp_init(self, module, *args, **kwargs)

    DistributedDataParallel.__init__ = ddp__init__


# -- checkpoints, default device, compile -----------------------------------------------------
def _cpu_location(location: Any) -> Any:
    if location is None or is_cuda(location) or isinstance(location, int):
        return _CPU
    if isinstance(location, dict):
        return {k: ("cpu" if is_cuda(v) else v) for k, v in location.items()}
    return location  # a callable: storage.cuda() inside it returns the CPU storage


def _patch_misc() -> None:
    original_load = torch.load

    @functools.wraps(original_load)
    def load(f: Any, map_location: Any = None, *args: Any, **kwargs: Any) -> Any:
        return original_load(f, _cpu_location(map_location), *args, **kwargs)

    torch.load = load

    for storage_cls in (torch.UntypedStorage, torch.storage.TypedStorage):
        original_cuda = getattr(storage_cls, "cuda", None)
        if original_cuda is None:
            continue

        def make(original_cuda: Callable[..., Any]) -> Callable[..., Any]:
            @functools.wraps(original_cuda)
            def cuda(self: Any, *args: Any, **kwargs: Any) -> Any:
                return self if self.device.type == "cpu" else original_cuda(self, *args, **kwargs)

            return cuda

        storage_cls.cuda = make(original_cuda)  # type: ignore[method-assign]

    original_default = torch.set_default_device

    @functools.wraps(original_default)
    def set_default_device(device: Any) -> None:
        if is_cuda(device) or isinstance(device, int):
            note("default-device", "torch.set_default_device('cuda') set the CPU")
            device = _CPU
        original_default(device)

    torch.set_default_device = set_default_device

    original_compile = torch.compile

    @functools.wraps(original_compile)
    def compile(model: Any = None, *args: Any, **kwargs: Any) -> Any:
        note("compile", "torch.compile ran the model eagerly")
        if model is None:
            return lambda fn: fn
        return model

    torch.compile = compile


_installed = False
MODE = CudaToCpuMode()


def install(torch_module: Any = None) -> None:
    global _installed
    if _installed:
        return
    _installed = True
    patch_cuda()
    patch_accelerator()
    _patch_amp()
    _patch_misc()
    try:
        _patch_distributed()
    except Exception as exc:  # noqa: BLE001
        RECORDER.note(f"cpu redirect: torch.distributed could not be redirected: {exc!r}")
    MODE.__enter__()  # for the rest of the process (this thread; forked children inherit it)
    RECORDER.device = {"type": "cuda", "redirected_to": "cpu", "device_count": _device_count()}
