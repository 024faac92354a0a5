"""Imports that compile TorchScript at import time, and a scripted function calling factories."""
import torch
from torch.distributed.optim import ZeroRedundancyOptimizer


@torch.jit.script
def scaled(x: torch.Tensor) -> torch.Tensor:
    return x * torch.tensor(2.0) + torch.as_tensor(1.0)


print("imported", ZeroRedundancyOptimizer.__name__)
print("scripted", scaled(torch.ones(2)).tolist())
print("on device", scaled(torch.ones(2, device="neuron")).device)
