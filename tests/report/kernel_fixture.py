"""A small project with every shape the kernel triage links: a CUDA extension built by setup.py
(a binding .cpp, a .cu with two kernels, a header it includes), a module that imports the
extension and calls what it exports, Triton kernels launched by wrappers that a training script
calls, a kernel named like a standard-library function, and a separate CUDA program with `main`."""

from __future__ import annotations

from pathlib import Path

FILES = {
    "setup.py": '''
from setuptools import setup
from torch.utils.cpp_extension import BuildExtension, CUDAExtension

setup(
    name="fastops",
    ext_modules=[CUDAExtension("fastops_cuda", sources=["csrc/bind.cpp", "csrc/softmax_kernel.cu"])],
    cmdclass={"build_ext": BuildExtension},
)
''',
    "csrc/bind.cpp": '''
#include <torch/extension.h>
torch::Tensor softmax_fwd(torch::Tensor x);
PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.def("softmax_fwd", &softmax_fwd, "softmax forward");
}
''',
    "csrc/softmax_kernel.cu": '''
#include "common.cuh"
// __global__ void commented_out_kernel() {}
__global__ void softmax_kernel1(const float* x, float* y, int n) { y[threadIdx.x] = warp_max(x[threadIdx.x]); }
template <int BLOCK>
__global__ void __launch_bounds__(256) softmax_kernel2(const float* x, float* y, int n) { y[0] = x[0]; }
torch::Tensor softmax_fwd(torch::Tensor x) { return x; }
''',
    "csrc/common.cuh": '''
#pragma once
__device__ inline float warp_max(float v) { return v; }
''',
    "fastops/__init__.py": '''
from .ops import fused_softmax, scale
''',
    "fastops/ops.py": '''
import torch
import triton
import fastops_cuda


def fused_softmax(x):
    return fastops_cuda.softmax_fwd(x)


@triton.jit
def _scale_kernel(x_ptr, a, n):
    pass


@triton.jit
def add(x_ptr, y_ptr, n):
    pass


def scale(x, a):
    _scale_kernel[(1,)](x, a, x.numel())
    return x


def add_inplace(x, y):
    add[(1,)](x, y, x.numel())
''',
    "train.py": '''
import torch
from fastops import fused_softmax
from fastops.ops import scale


def main():
    x = torch.ones(4, device="cuda")
    y = scale(fused_softmax(x), 2.0)
    torch.cuda.synchronize()
    return y


if __name__ == "__main__":
    main()
''',
    "utils.py": '''
from operator import add

total = add(1, 2)
''',
    "bench/standalone.cu": '''
#include "bench_util.cuh"
__global__ void bench_kernel(float* x) { x[0] = 1.f; }
int main() { return 0; }
''',
    "bench/bench_util.cuh": '''
__global__ void helper_kernel(float* x) { x[0] = 0.f; }
''',
}


def write_project(root: Path) -> Path:
    for name, text in FILES.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text.lstrip("\n"), encoding="utf-8")
    return root
