"""A portable DDP script: no backend named, the device from torch.accelerator (CPU or neuron)."""
import sys

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

dist.init_process_group()
acc = torch.accelerator.current_accelerator()
device = acc if acc is not None else torch.device("cpu")
torch.manual_seed(0)
model = DistributedDataParallel(torch.nn.Linear(4, 2).to(device))
opt = torch.optim.SGD(model.parameters(), lr=0.1)
rank = dist.get_rank()
for _ in range(2):
    x = torch.full((3, 4), float(rank + 1), device=device)
    loss = model(x).square().mean()
    opt.zero_grad()
    loss.backward()
    opt.step()
total = torch.tensor([float(rank + 1)], device=device)
dist.all_reduce(total)
weights = model.module.weight.detach().cpu().sum().item()
# one write per line: unbuffered `print` writes the text and its newline separately, and the two
# ranks' lines would interleave
sys.stdout.write(f"rank {rank} on {device.type}: all_reduce {total.item():.1f} weights {weights:.6f}\n")
sys.stdout.flush()
dist.destroy_process_group()
