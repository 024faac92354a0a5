"""Tied weights (GPT-2's lm_head shares the token embedding) and an optimizer built before the
move: on a real device `.to()` converts parameters in place, so both stay the same objects."""
import torch
from torch import nn


class TinyLM(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.emb = nn.Embedding(10, 4)
        self.head = nn.Linear(4, 10, bias=False)
        self.head.weight = self.emb.weight


DEV = "neuron"
torch.manual_seed(0)
model = TinyLM()
opt = torch.optim.SGD(model.parameters(), lr=0.5)
before = model.emb.weight
n_cpu = sum(p.numel() for p in model.parameters())
model.to(DEV)
print("tied", model.head.weight is model.emb.weight)
print("same object", model.emb.weight is before, model.emb.weight.device)
print("params", n_cpu, sum(p.numel() for p in model.parameters()))
snapshot = model.emb.weight.detach().cpu().clone()
loss = model.head(model.emb(torch.tensor([1, 2], device=DEV))).sum()
loss.backward()
opt.step()
print("optimizer trained the model", not torch.equal(snapshot, model.emb.weight.detach().cpu()))
model.half()
print("tied after half", model.head.weight is model.emb.weight, model.emb.weight.dtype)
model.to("cpu")
print("tied after cpu", model.head.weight is model.emb.weight, model.emb.weight.device)
