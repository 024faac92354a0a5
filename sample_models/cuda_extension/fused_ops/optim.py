"""Optimizer factory: apex FusedAdam, bitsandbytes 8-bit AdamW, or torch.optim.AdamW."""

import warnings

import torch


def make_optimizer(params, lr, weight_decay=0.0, kind="auto"):
    """kind: 'auto' (apex if installed), 'apex', '8bit' or 'torch'."""
    params = list(params)
    if kind in ("auto", "apex"):
        try:
            from apex.optimizers import FusedAdam

            return FusedAdam(params, lr=lr, weight_decay=weight_decay, adam_w_mode=True)
        except ImportError:
            if kind == "apex":
                warnings.warn("apex is not installed; falling back to torch.optim.AdamW")
    if kind == "8bit":
        try:
            import bitsandbytes as bnb

            return bnb.optim.AdamW8bit(params, lr=lr, weight_decay=weight_decay)
        except ImportError:
            warnings.warn("bitsandbytes is not installed; falling back to torch.optim.AdamW")
    return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
