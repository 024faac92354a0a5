"""Causal self-attention: FlashAttention-2 -> xFormers -> PyTorch SDPA."""

import torch
import torch.nn.functional as F

try:
    from flash_attn import flash_attn_func

    HAS_FLASH_ATTN = True
except ImportError:
    flash_attn_func = None
    HAS_FLASH_ATTN = False

try:
    import xformers.ops as xops

    HAS_XFORMERS = True
except ImportError:
    xops = None
    HAS_XFORMERS = False


def attention_backend(q):
    if HAS_FLASH_ATTN and q.is_cuda and q.dtype in (torch.float16, torch.bfloat16):
        return "flash_attn"
    if HAS_XFORMERS and q.is_cuda:
        return "xformers"
    return "sdpa"


def attention(q, k, v, causal=True, dropout_p=0.0):
    """q, k, v: (batch, seqlen, heads, head_dim), the layout flash-attn and xFormers use."""
    backend = attention_backend(q)
    if backend == "flash_attn":
        return flash_attn_func(q, k, v, dropout_p=dropout_p, causal=causal)
    if backend == "xformers":
        bias = xops.LowerTriangularMask() if causal else None
        return xops.memory_efficient_attention(q, k, v, attn_bias=bias, p=dropout_p)
    # torch SDPA wants (batch, heads, seqlen, head_dim)
    out = F.scaled_dot_product_attention(
        q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), dropout_p=dropout_p, is_causal=causal)
    return out.transpose(1, 2)
