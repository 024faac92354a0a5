"""Looks portable, but only works on the CPU: the bias never follows the accelerator."""
import torch

acc = torch.accelerator.current_accelerator()
device = acc if acc is not None else torch.device("cpu")
x = torch.ones(4, device=device)
bias = torch.ones(4)
print((x + bias).sum().item(), device.type)
