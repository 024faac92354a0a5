"""CUDA's autocast policy on the CPU, for the CPU reference of ``porttool check --compare``
(stdlib + torch only; never imports porttool).

``torch.autocast("cuda", dt)`` runs as ``torch.autocast("cpu", dt)`` in the CPU reference, and the
two policies differ: CPU autocast leaves alone ops that CUDA autocast casts, so a bf16 linear's
output would reach ``layer_norm``, ``softmax``, ``exp`` or ``sum`` in bf16 on the CPU where CUDA
computes them in float32, and ``einsum``/``mv``/the RNN cells would stay float32 where CUDA lowers
them.  This module registers, for the ``AutocastCPU`` dispatch key, CUDA's casts for every op that
has a CUDA autocast kernel and no CPU one (PyTorch's ``autocast_mode.cpp`` lists, 2.13):

* *lower precision*: floating inputs cast to the autocast dtype;
* *float32*: floating inputs cast to float32;
* *float32 unless a dtype is given* (``softmax``, ``log_softmax``, ``sum``, ``cumsum``, ...):
  run with ``dtype=float32`` when the call gives none;
* *promote*: floating inputs cast to the widest of them.

Ops the CPU policy already covers keep the CPU's kernels.  What stays different: the CPU's own
kernels for the ops both policies cover, and float32 matmuls (a GPU's TF32 is full float32 here).
"""

from __future__ import annotations

from typing import Any

import torch

LOWER = ("addmv", "addr", "einsum", "mv", "chain_matmul", "linalg_multi_dot", "lstm_cell",
         "gru_cell", "rnn_tanh_cell", "rnn_relu_cell")
FP32 = ("acos", "asin", "cosh", "erfinv", "exp", "expm1", "log", "log10", "log2", "log1p",
        "reciprocal", "rsqrt", "sinh", "tan", "pow.Tensor_Scalar", "pow.Tensor_Tensor",
        "pow.Scalar", "softplus", "layer_norm", "native_layer_norm", "group_norm",
        "frobenius_norm.dim", "nuclear_norm", "nuclear_norm.dim", "cosine_similarity", "dist",
        "pdist", "renorm", "logsumexp", "upsample_nearest1d", "_upsample_nearest_exact1d",
        "upsample_nearest2d", "_upsample_nearest_exact2d", "upsample_nearest3d",
        "_upsample_nearest_exact3d", "upsample_linear1d", "upsample_bilinear2d",
        "_upsample_bilinear2d_aa", "upsample_trilinear3d", "upsample_bicubic2d",
        "_upsample_bicubic2d_aa")
FP32_UNLESS_DTYPE = ("softmax.int", "log_softmax.int", "cumprod", "cumsum", "linalg_vector_norm",
                     "linalg_matrix_norm", "linalg_matrix_norm.str_ord", "sum", "sum.dim_IntList",
                     "prod", "prod.dim_int")
PROMOTE = ("addcdiv", "addcmul", "atan2", "bilinear", "cross", "dot", "index_put", "scatter_add",
           "tensordot")

_KEYSET = torch._C.DispatchKeySet(torch._C.DispatchKey.AutocastCPU)
_CASTABLE = (torch.float32, torch.float16, torch.bfloat16)
_libraries: list[Any] = []


def _cast(value: Any, dtype: torch.dtype) -> Any:
    if isinstance(value, torch.Tensor):
        return value.to(dtype) if value.dtype in _CASTABLE and value.dtype is not dtype else value
    if type(value) in (list, tuple):
        return type(value)(_cast(v, dtype) for v in value)
    return value


def _floats(value: Any, found: list[torch.dtype]) -> None:
    if isinstance(value, torch.Tensor):
        if value.dtype in _CASTABLE:
            found.append(value.dtype)
    elif type(value) in (list, tuple):
        for v in value:
            _floats(v, found)


def _widest(args: Any, kwargs: Any) -> torch.dtype | None:
    found: list[torch.dtype] = []
    _floats(list(args) + list(kwargs.values()), found)
    if not found:
        return None
    return torch.float32 if torch.float32 in found else found[0] if len(set(found)) == 1 else torch.float32


def _kernel(op: Any, policy: str) -> Any:
    dtype_index = next((i for i, a in enumerate(op._schema.arguments) if a.name == "dtype"), None)

    def kernel(*args: Any, **kwargs: Any) -> Any:
        with torch._C._ExcludeDispatchKeyGuard(_KEYSET):
            if policy == "lower":
                dtype = torch.get_autocast_dtype("cpu")
                return op(*_cast(args, dtype), **_cast(kwargs, dtype))
            if policy == "fp32":
                return op(*_cast(args, torch.float32), **_cast(kwargs, torch.float32))
            if policy == "fp32_unless_dtype":
                first = args[0] if args else None
                given = kwargs.get("dtype") if "dtype" in kwargs else (
                    args[dtype_index] if dtype_index is not None and len(args) > dtype_index else None)
                if given is None and isinstance(first, torch.Tensor) and first.dtype in _CASTABLE \
                        and dtype_index is not None:
                    if len(args) > dtype_index:
                        args = (*args[:dtype_index], torch.float32, *args[dtype_index + 1:])
                    else:
                        kwargs = {**kwargs, "dtype": torch.float32}
                return op(*args, **kwargs)
            widest = _widest(args, kwargs)  # promote
            if widest is None:
                return op(*args, **kwargs)
            return op(*_cast(args, widest), **_cast(kwargs, widest))

    return kernel


def install() -> list[str]:
    """Register CUDA's casts on AutocastCPU; return the ops registered."""
    library = torch.library.Library("aten", "IMPL")
    done: list[str] = []
    for names, policy in ((LOWER, "lower"), (FP32, "fp32"), (FP32_UNLESS_DTYPE, "fp32_unless_dtype"),
                          (PROMOTE, "promote")):
        for qual in names:
            full = "aten::" + qual
            try:
                if torch._C._dispatch_has_kernel_for_dispatch_key(full, "AutocastCPU") or \
                        not torch._C._dispatch_has_kernel_for_dispatch_key(full, "AutocastCUDA"):
                    continue
            except RuntimeError:
                continue  # not an op of this torch build
            name, _, overload = qual.partition(".")
            op = getattr(getattr(torch.ops.aten, name), overload or "default", None)
            if op is None:
                continue
            try:
                library.impl(qual, _kernel(op, policy), "AutocastCPU")
                done.append(qual)
            except RuntimeError:
                pass
    _libraries.append(library)
    return done
