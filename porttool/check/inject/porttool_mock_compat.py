"""Where the simulated neuron device must behave like a real PyTorch device (stdlib + torch only).

Each patch closes a gap between a Python wrapper-subclass backend and a C++ one, seen on public
training scripts:

* ``Module._apply`` (``.to("neuron")``, ``.half()``, ...) keeps tied parameters tied: a real
  device converts a parameter in place (``param.data = ...``), so ``head.weight is emb.weight``
  survives the move; for a wrapper subclass torch makes one new ``Parameter`` per *occurrence*;
* patched ``torch`` factories stay TorchScript builtins (``torch.jit.script`` of a function that
  calls ``torch.tensor`` would otherwise try to compile our Python wrapper);
* an integer device (``torch.tensor(x, device=0)``) means the current accelerator, as in torch;
* collectives on neuron tensors use the process group's neuron backend, however the group was
  created (``init_process_group()`` with no backend maps only the accelerator's device type).
"""

from __future__ import annotations

import functools
import threading
from typing import Any

import torch

_DEVICE_NAME = "neuron"
_apply_depth = threading.local()


def _is_neuron(t: Any) -> bool:
    return isinstance(t, torch.Tensor) and t.device.type == _DEVICE_NAME


def _slots(module: torch.nn.Module, recurse: bool) -> list[tuple[torch.nn.Module, str, Any, bool]]:
    modules = module.modules() if recurse else (module,)
    return [(sub, name, param, _is_neuron(param)) for sub in modules
            for name, param in sub._parameters.items() if param is not None]


def patch_module_apply() -> None:
    """Convert parameters moved to or from the device *in place*, as torch does for a C++ device
    (``param.data = converted``): the module's ``Parameter`` objects stay the same objects, so
    tied weights stay tied and an optimizer built before ``.to("neuron")`` still holds them.

    torch replaces them for a wrapper subclass; here the replacement is swapped back into the
    original object (``torch.utils.swap_tensors``, what torch itself does for traceable
    subclasses).  Where a swap is refused (the parameter is held by an autograd graph), tied
    slots at least share the first replacement."""
    original = torch.nn.Module._apply

    @functools.wraps(original)
    def _apply(self: Any, fn: Any, recurse: bool = True) -> Any:
        if getattr(_apply_depth, "value", 0):  # a child: the outermost call restores identity
            return original(self, fn, recurse)
        before = _slots(self, recurse)
        _apply_depth.value = 1
        try:
            result = original(self, fn, recurse)
        finally:
            _apply_depth.value = 0
        replaced: dict[int, Any] = {}  # id(old parameter) -> the object its slots now hold
        for module, name, old, was_neuron in before:
            new = module._parameters.get(name)
            if new is None or new is old or not (was_neuron or _is_neuron(new)):
                continue
            keep = replaced.get(id(old))
            if keep is None:
                try:
                    torch.utils.swap_tensors(old, new)
                    keep = old
                except Exception:  # refused (held by a graph, weakrefs): keep ties at least  # noqa: BLE001
                    keep = new
                replaced[id(old)] = keep
            module._parameters[name] = keep
        return result

    torch.nn.Module._apply = _apply  # type: ignore[method-assign]


def keep_torchscript_builtin(original: Any, patched: Any) -> None:
    """``patched`` replaces the torch builtin ``original``: TorchScript must still see the aten op
    (``torch.jit.script`` compiles any other callable from its source, and a wrapper of a builtin
    has none -- importing ``torch.distributed.optim`` failed that way)."""
    try:
        from torch.jit import _builtins
    except ImportError:
        return
    op = _builtins._find_builtin(original)
    if op is not None:
        _builtins._register_builtin(patched, op)


def bind_neuron_collectives_to_cpu() -> None:
    """The mock runs a collective on a neuron tensor with the CPU tensor behind it, so c10d looks
    the backend up for ``cpu``.  ``init_process_group()`` with no backend maps only the
    accelerator's device type (``neuron``), so DDP failed with "No backend type associated with
    device type cpu"; a real device finds its neuron backend.  Every group with a neuron backend
    and none for ``cpu`` gets its neuron backend for ``cpu`` too (the mock cannot tell a CPU
    tensor of the program from the one behind a neuron tensor once dispatched)."""
    from torch.distributed import distributed_c10d as c10d

    original = c10d._new_process_group_helper

    @functools.wraps(original)
    def helper(*args: Any, **kwargs: Any) -> Any:
        pg, store = original(*args, **kwargs)
        try:
            types = {d.type for d in pg._device_types}
            if _DEVICE_NAME in types and "cpu" not in types:
                neuron = torch.device(_DEVICE_NAME)
                backend = pg._get_backend(neuron)
                custom = c10d.ProcessGroup.BackendType.CUSTOM
                pg._register_backend(torch.device("cpu"), custom, backend)
                # With no backend named, torch sets the default backend type to GLOO, which this
                # group does not have (DDP's logger: "Could not find backend type 1").
                pg._set_default_backend(custom)
        except (AttributeError, RuntimeError):  # a non-member placeholder, an older torch
            pass
        return pg, store

    c10d._new_process_group_helper = helper
