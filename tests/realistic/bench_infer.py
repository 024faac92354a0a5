"""Measure the latency of a small MLP classifier on the GPU."""
import argparse

import torch
import torch.nn as nn

parser = argparse.ArgumentParser()
parser.add_argument("--device", default="cuda")
parser.add_argument("--iters", type=int, default=5)
args = parser.parse_args()

torch.manual_seed(0)
model = nn.Sequential(nn.Linear(64, 128), nn.GELU(), nn.Linear(128, 10)).eval().to(args.device)
x = torch.randn(32, 64, device=args.device)

start = torch.cuda.Event(enable_timing=True)
end = torch.cuda.Event(enable_timing=True)
torch.cuda.reset_peak_memory_stats()
with torch.no_grad():
    out = model(x)  # warm-up
    torch.cuda.synchronize()
    start.record()
    for _ in range(args.iters):
        out = model(x)
    end.record()
    torch.cuda.synchronize()
latency = start.elapsed_time(end) / args.iters
print(f"checksum {out.double().sum().item():.6f}")
print(f"argmax {out.argmax(dim=1).tolist()[:8]}")
print(f"latency {latency:.3f} ms, peak memory {torch.cuda.max_memory_allocated() / 2**20:.1f} MiB")
torch.cuda.empty_cache()
