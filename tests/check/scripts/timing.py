"""CUDA event timing as PT111 ports it: torch.Event on the current accelerator."""
import torch

start, end = torch.Event(enable_timing=True), torch.Event(enable_timing=True)
assert start.device.type == "neuron", start.device
a = torch.randn(32, 32, device="neuron")
start.record()
for _ in range(3):
    a = a @ a.T / 32
end.record()
end.synchronize()
assert end.query()
ms = start.elapsed_time(end)
assert ms >= 0.0, ms
print(f"timed {ms:.3f} ms")
