"""Small elementwise ops: a jiterator kernel on CUDA, CuPy for zero-copy export."""

import torch

try:
    import cupy as cp
except ImportError:
    cp = None

_SQUARED_RELU = """
template <typename T> T squared_relu(T x) { return x > T(0) ? x * x : T(0); }
"""
_squared_relu_cuda = None


def squared_relu(x):
    """relu(x) ** 2. Forward only: used for activation statistics, not in the training graph."""
    global _squared_relu_cuda
    if x.is_cuda:
        if _squared_relu_cuda is None:
            _squared_relu_cuda = torch.cuda.jiterator._create_jit_fn(_SQUARED_RELU)
        return _squared_relu_cuda(x)
    return torch.relu(x).square()


def to_cupy(t):
    """Share a CUDA tensor with CuPy without a copy (DLPack)."""
    if cp is None:
        raise RuntimeError("cupy is not installed")
    return cp.from_dlpack(t.detach())
