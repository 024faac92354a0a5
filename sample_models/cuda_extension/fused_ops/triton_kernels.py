"""A Triton kernel for `x + alpha * y` (scaled residual add), exposed as a torch op."""

import torch

try:
    import triton
    import triton.language as tl

    HAS_TRITON = True
except ImportError:
    triton = tl = None
    HAS_TRITON = False


if HAS_TRITON:

    @triton.jit
    def _scaled_add_kernel(x_ptr, y_ptr, out_ptr, alpha, n_elements, BLOCK_SIZE: tl.constexpr):
        pid = tl.program_id(axis=0)
        offsets = pid * BLOCK_SIZE + tl.arange(0, BLOCK_SIZE)
        mask = offsets < n_elements
        x = tl.load(x_ptr + offsets, mask=mask)
        y = tl.load(y_ptr + offsets, mask=mask)
        tl.store(out_ptr + offsets, x + alpha * y, mask=mask)

    @torch.library.triton_op("fused_ops::scaled_add", mutates_args=())
    def _scaled_add(x: torch.Tensor, y: torch.Tensor, alpha: float) -> torch.Tensor:
        out = torch.empty_like(x)
        n = x.numel()
        grid = lambda meta: (triton.cdiv(n, meta["BLOCK_SIZE"]),)  # noqa: E731
        torch.library.wrap_triton(_scaled_add_kernel)[grid](x, y, out, alpha, n, BLOCK_SIZE=1024)
        return out


def residual_add(x, y, alpha=1.0):
    # the Triton op has no autograd formula registered: use it for inference only
    if HAS_TRITON and x.is_cuda and not torch.is_grad_enabled():
        return torch.ops.fused_ops.scaled_add(x.contiguous(), y.contiguous(), alpha)
    return x + alpha * y
