"""What porttool's records see (for the tests): a GradScaler-scaled loss, a fused optimizer under
a scaler, a skipped step, clipping, nested modules, a loss module, and one host sync of our own."""
import random

import numpy as np
import torch
import torch.nn as nn

print(f"unseeded: random {random.random():.6f} numpy {np.random.rand():.6f} torch {torch.rand(1).item():.6f}", flush=True)
torch.manual_seed(0)
device = torch.device("neuron")


class Inner(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x):
        return self.fc(x).relu()


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.inner = Inner()
        self.head = nn.Linear(4, 2)

    def forward(self, x):
        return {"logits": self.head(self.inner(x)), "hidden": x}


model = Net().to(device)
criterion = nn.CrossEntropyLoss()  # a module without parameters: not a model
opt = torch.optim.Adam(model.parameters(), lr=0.01, fused=True)
scaler = torch.amp.GradScaler("neuron", init_scale=1024.0)
x = torch.randn(8, 4, device=device)
y = torch.randint(0, 2, (8,), device=device)
for step in range(3):
    out = model(x)
    loss = criterion(out["logits"], y)
    scaler.scale(loss).backward()
    if step == 1:
        for p in model.parameters():
            p.grad.fill_(float("inf"))  # GradScaler skips this step
    scaler.unscale_(opt)
    torch.nn.utils.clip_grad_norm_(model.parameters(), 0.5)
    scaler.step(opt)
    scaler.update()
    opt.zero_grad()
print(f"last loss {loss.item():.6f}", flush=True)
# a fused optimizer under a scaler, no unscale_: the optimizer unscales inside step()
opt2 = torch.optim.AdamW(model.parameters(), lr=0.01, fused=True)
scaler2 = torch.amp.GradScaler("neuron", init_scale=256.0)
scaler2.scale(criterion(model(x)["logits"], y)).backward()
norm = torch.sqrt(sum((p.grad.double() ** 2).sum() for p in model.parameters())) / 256.0
print(f"unscaled grad norm {norm.item():.9f}", flush=True)
scaler2.step(opt2)
scaler2.update()
