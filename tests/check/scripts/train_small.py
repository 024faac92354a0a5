"""A small training loop written for the neuron device: AdamW, bf16 autocast, DataLoader workers."""
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

torch.manual_seed(0)
device = torch.device("neuron")
assert torch.accelerator.current_accelerator().type == "neuron"
data = TensorDataset(torch.randn(64, 16), torch.randint(0, 4, (64,)))
loader = DataLoader(data, batch_size=16, num_workers=2)
model = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 4)).to(device)
assert next(model.parameters()).device.type == "neuron"
optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
first = last = None
for epoch in range(3):
    for x, y in loader:
        x, y = x.to(device), y.to(device)
        with torch.autocast("neuron", dtype=torch.bfloat16):
            logits = model(x)
            assert logits.dtype == torch.bfloat16, logits.dtype
            loss = nn.functional.cross_entropy(logits.float(), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        value = loss.item()  # a host sync, reported
        first = value if first is None else first
        last = value
weights = model[0].weight.double()  # fp64 on the device, reported
torch.accelerator.synchronize()
print(f"loss {first:.3f} -> {last:.3f}; device {loss.device}")
