"""An UNPORTED CUDA training script in the style of public ones (nanoGPT's train.py, the PyTorch
DDP tutorial): single process with `python`, DDP with `torchrun`. The tests port a copy with
`porttool rewrite` and check it; this file itself must keep its CUDA code."""
import argparse
import os
import time

import torch
import torch.nn.functional as F
from torch.distributed import destroy_process_group, init_process_group
from torch.nn.parallel import DistributedDataParallel as DDP
from torch.utils.data import DataLoader, TensorDataset
from torch.utils.data.distributed import DistributedSampler

parser = argparse.ArgumentParser()
parser.add_argument("--steps", type=int, default=4)
parser.add_argument("--batch_size", type=int, default=8)
parser.add_argument("--out", default="ckpt.pt")
args = parser.parse_args()

ddp = int(os.environ.get("RANK", "-1")) != -1
if ddp:
    init_process_group(backend="nccl")
    rank = int(os.environ["RANK"])
    local_rank = int(os.environ["LOCAL_RANK"])
    device = f"cuda:{local_rank}"
    torch.cuda.set_device(device)
else:
    rank, local_rank = 0, 0
    device = "cuda" if torch.cuda.is_available() else "cpu"
master = rank == 0
torch.manual_seed(1337 + rank)
torch.cuda.manual_seed(1337 + rank)
torch.backends.cuda.matmul.allow_tf32 = True
torch.backends.cudnn.benchmark = True
device_type = "cuda" if "cuda" in device else "cpu"
dtype = "bfloat16" if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else "float16"
ptdtype = {"bfloat16": torch.bfloat16, "float16": torch.float16}[dtype]


class MLP(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1 = torch.nn.Linear(16, 32)
        self.fc2 = torch.nn.Linear(32, 4)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x)))


data = TensorDataset(torch.randn(64, 16), torch.randint(0, 4, (64,)))
sampler = DistributedSampler(data) if ddp else None
loader = DataLoader(data, batch_size=args.batch_size, sampler=sampler, shuffle=sampler is None,
                    pin_memory=True, drop_last=True)
model = MLP().cuda()
if os.path.exists(args.out):
    state = torch.load(args.out, map_location=device)
    model.load_state_dict(state["model"])
if ddp:
    model = DDP(model, device_ids=[local_rank])
optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
scaler = torch.cuda.amp.GradScaler(enabled=(dtype == "float16"))

step = 0
t0 = time.time()
while step < args.steps:
    for x, y in loader:
        x = x.pin_memory().to(device, non_blocking=True)
        y = y.to(device, non_blocking=True)
        with torch.autocast(device_type=device_type, dtype=ptdtype):
            loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        step += 1
        if step >= args.steps:
            break
torch.cuda.synchronize()
dt = time.time() - t0
if master:
    raw = model.module if ddp else model
    torch.save({"model": raw.state_dict(), "step": step}, args.out)
    print(f"rank {rank}: {step} steps on {loss.device.type}, loss {loss.item():.3f}, {dt:.2f}s")
if ddp:
    destroy_process_group()
