"""Fused bias + GELU: prebuilt extension -> JIT-compiled extension -> plain PyTorch."""

import os
import warnings

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.cpp_extension import load, load_inline

_CSRC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "csrc")

_CPP_SOURCE = """
torch::Tensor bias_gelu_forward(torch::Tensor x, torch::Tensor bias);
std::vector<torch::Tensor> bias_gelu_backward(torch::Tensor grad_out, torch::Tensor x, torch::Tensor bias);
"""

# a compact copy of csrc/fused_gelu_kernel.cu (float32 only) for environments without the prebuilt wheel
_CUDA_SOURCE = r"""
#include <torch/extension.h>
#include <ATen/cuda/CUDAContext.h>

__device__ __forceinline__ float gelu_tanh(float v) {
  return 0.5f * v * (1.0f + tanhf(0.7978845608f * (v + 0.044715f * v * v * v)));
}

__global__ void fwd(const float* x, const float* b, float* y, int64_t n, int64_t h) {
  int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
  if (i < n) y[i] = gelu_tanh(x[i] + b[i % h]);
}

__global__ void bwd(const float* g, const float* x, const float* b, float* gx, int64_t n, int64_t h) {
  int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
  if (i < n) {
    float v = x[i] + b[i % h];
    float t = tanhf(0.7978845608f * (v + 0.044715f * v * v * v));
    float d = 0.5f * (1.0f + t) + 0.5f * v * (1.0f - t * t) * 0.7978845608f * (1.0f + 0.134145f * v * v);
    gx[i] = g[i] * d;
  }
}

torch::Tensor bias_gelu_forward(torch::Tensor x, torch::Tensor bias) {
  auto y = torch::empty_like(x);
  int64_t n = x.numel();
  fwd<<<(n + 255) / 256, 256, 0, at::cuda::getCurrentCUDAStream()>>>(
      x.data_ptr<float>(), bias.data_ptr<float>(), y.data_ptr<float>(), n, bias.numel());
  return y;
}

std::vector<torch::Tensor> bias_gelu_backward(torch::Tensor g, torch::Tensor x, torch::Tensor bias) {
  auto gx = torch::empty_like(x);
  int64_t n = x.numel();
  bwd<<<(n + 255) / 256, 256, 0, at::cuda::getCurrentCUDAStream()>>>(
      g.data_ptr<float>(), x.data_ptr<float>(), bias.data_ptr<float>(), gx.data_ptr<float>(), n, bias.numel());
  return {gx, gx.reshape({-1, bias.numel()}).sum(0)};
}
"""

_ext = None
_ext_tried = False


def _load_extension():
    try:
        import fused_gelu_cuda  # built by `pip install -e .` (setup.py)
        return fused_gelu_cuda
    except ImportError:
        pass
    if not torch.cuda.is_available():
        return None
    try:
        if os.environ.get("FUSED_OPS_JIT_FROM_CSRC") == "1":
            return load(
                name="fused_gelu_jit",
                sources=[os.path.join(_CSRC, "fused_gelu.cpp"), os.path.join(_CSRC, "fused_gelu_kernel.cu")],
                extra_include_paths=[_CSRC],
                extra_cuda_cflags=["-O3", "--use_fast_math"],
                verbose=False,
            )
        return load_inline(
            name="fused_gelu_inline",
            cpp_sources=_CPP_SOURCE,
            cuda_sources=_CUDA_SOURCE,
            functions=["bias_gelu_forward", "bias_gelu_backward"],
            extra_cuda_cflags=["-O3"],
            verbose=False,
        )
    except Exception as exc:  # no nvcc, wrong toolkit, ...
        warnings.warn(f"could not build the fused GELU extension ({exc}); using PyTorch ops")
        return None


def _get_ext():
    global _ext, _ext_tried
    if not _ext_tried:
        _ext = _load_extension()
        _ext_tried = True
    return _ext


def gelu_backend():
    return "cuda-extension" if _get_ext() is not None else "pytorch"


class _BiasGELUFunction(torch.autograd.Function):
    @staticmethod
    @torch.cuda.amp.custom_fwd(cast_inputs=torch.float32)  # the kernel is float32-only under autocast
    def forward(ctx, x, bias):
        x, bias = x.contiguous(), bias.contiguous()
        ctx.save_for_backward(x, bias)
        return _get_ext().bias_gelu_forward(x, bias)

    @staticmethod
    @torch.cuda.amp.custom_bwd
    def backward(ctx, grad_out):
        x, bias = ctx.saved_tensors
        grad_x, grad_bias = _get_ext().bias_gelu_backward(grad_out.contiguous(), x, bias)
        return grad_x, grad_bias


def bias_gelu(x, bias):
    """gelu(x + bias) with the tanh approximation."""
    if _get_ext() is not None and x.is_cuda and x.dtype == torch.float32:
        return _BiasGELUFunction.apply(x, bias)
    return F.gelu(x + bias, approximate="tanh")


class FusedBiasGELU(nn.Module):
    """Linear layer whose bias add is fused into the following GELU."""

    def __init__(self, in_features, out_features):
        super().__init__()
        self.linear = nn.Linear(in_features, out_features, bias=False)
        self.bias = nn.Parameter(torch.zeros(out_features))

    def forward(self, x):
        return bias_gelu(self.linear(x), self.bias)
