"""The high-precision twin of the reference run (stdlib + torch only; never imports porttool).

Installed when ``PORTTOOL_HIGH_PRECISION=1``: the original program runs as written except that

* every ``torch.autocast`` region is disabled (its ops run in the dtype of their inputs, float32
  for a float32 model): the region is still entered, so the program's control flow is unchanged;
* TF32 is off for matmuls and cuDNN (``allow_tf32 = True`` and
  ``set_float32_matmul_precision("high"/"medium")`` are ignored), which matters on CUDA only.

``GradScaler`` keeps scaling (the scalar passed to ``backward()`` stays comparable); parameters
the program itself stores in float16/bfloat16 (``model.half()``) stay so -- the records show it
and the comparison falls back to dtype tolerances for them.  The distance between this run and
the run as written is the noise floor of ``porttool check --compare``.
"""

from __future__ import annotations

import functools
from typing import Any

import torch
from porttool_events import RECORDER


def _patch_autocast() -> None:
    cls = torch.amp.autocast_mode.autocast
    original_init = cls.__init__

    def __init__(self: Any, device_type: str, dtype: Any = None, enabled: bool = True,
                 cache_enabled: Any = None) -> None:
        original_init(self, device_type, dtype=dtype, enabled=False, cache_enabled=cache_enabled)
        requested = getattr(self, "_porttool_requested", None)
        if requested is None:
            asked = dtype if dtype is not None else torch.get_autocast_dtype(device_type)
            requested = (device_type, str(asked).replace("torch.", ""), bool(enabled))
        self._porttool_requested = (requested[0], requested[1], bool(enabled))

    cls.__init__ = __init__


def _patch_tf32() -> None:
    setters = ("_set_cublas_allow_tf32", "_set_cudnn_allow_tf32")
    for name in setters:
        original = getattr(torch._C, name, None)
        if original is None:
            continue
        try:
            original(False)
        except Exception:  # noqa: BLE001,S110
            pass

        def make(original: Any) -> Any:
            @functools.wraps(original)
            def setter(value: bool) -> None:
                original(False)

            return setter

        setattr(torch._C, name, make(original))
    original_precision = torch.set_float32_matmul_precision

    @functools.wraps(original_precision)
    def set_float32_matmul_precision(precision: str) -> None:
        original_precision("highest")

    torch.set_float32_matmul_precision("highest")
    torch.set_float32_matmul_precision = set_float32_matmul_precision


_installed = False


def install(torch_module: Any = None) -> None:
    global _installed
    if _installed:
        return
    _installed = True
    _patch_autocast()
    _patch_tf32()
    RECORDER.note("high-precision reference: autocast disabled, TF32 off")
