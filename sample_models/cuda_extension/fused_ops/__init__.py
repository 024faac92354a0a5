"""Fused kernels with pure-PyTorch fallbacks. Every fast path is optional."""

from .attention import attention, attention_backend
from .gelu import FusedBiasGELU, bias_gelu, gelu_backend
from .gpu_info import gpu_summary
from .interop import squared_relu
from .norm import LayerNorm, layer_norm_backend
from .optim import make_optimizer
from .triton_kernels import HAS_TRITON, residual_add

__all__ = [
    "FusedBiasGELU", "HAS_TRITON", "LayerNorm", "attention", "attention_backend", "bias_gelu",
    "gelu_backend", "gpu_summary", "layer_norm_backend", "make_optimizer", "residual_add", "squared_relu",
]
