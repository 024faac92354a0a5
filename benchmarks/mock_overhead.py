"""Cost of the CPU mock of the neuron device: the same small training loop on plain CPU and on
the mock, in fresh processes.  Prints (and optionally writes) JSON with the ratio.  Not a test.

    python benchmarks/mock_overhead.py [--model mlp|transformer|gpt2] [--steps N] [--repeat R] [--out F]

``gpt2``: GPT-2 small (124 M parameters, 12 layers, 12 heads, d=768, vocab 50304, tied head),
batch 1, block 64, AdamW; the forward under ``torch.autocast(device, bfloat16)`` on the neuron
device and plain fp32 on the CPU, as nanoGPT's ``bench.py`` runs on each.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
INJECT = ROOT / "porttool" / "check" / "inject"

TRAIN = r'''
import sys, time
import torch
from torch import nn
kind, steps, device = sys.argv[1], int(sys.argv[2]), torch.device(sys.argv[3])
torch.set_num_threads(1)  # both runs alike: on a 2-core machine shared with other jobs, intra-op threads
                          # contending with them made the plain run slower than the mock (ratio 0.22)
torch.manual_seed(0)
if kind == "mlp":
    model = nn.Sequential(nn.Linear(256, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(),
                          nn.Linear(512, 10))
    make = lambda: (torch.randn(128, 256), torch.randint(0, 10, (128,)))
    loss_fn = lambda out, y: nn.functional.cross_entropy(out, y)
elif kind == "gpt2":
    # GPT-2 small (124 M parameters, tied embedding/head) as nanoGPT writes it; batch 1, block 64;
    # bf16 autocast on an accelerator, plain fp32 on the CPU -- what nanoGPT's bench.py does.
    class Attention(nn.Module):
        def __init__(self, d, heads):
            super().__init__()
            self.heads, self.c_attn, self.c_proj = heads, nn.Linear(d, 3 * d), nn.Linear(d, d)
        def forward(self, x):
            b, t, d = x.shape
            q, k, v = self.c_attn(x).split(d, dim=2)
            q, k, v = (z.view(b, t, self.heads, d // self.heads).transpose(1, 2) for z in (q, k, v))
            y = nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
            return self.c_proj(y.transpose(1, 2).contiguous().view(b, t, d))
    class Block(nn.Module):
        def __init__(self, d, heads):
            super().__init__()
            self.ln_1, self.attn, self.ln_2 = nn.LayerNorm(d), Attention(d, heads), nn.LayerNorm(d)
            self.mlp = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(), nn.Linear(4 * d, d))
        def forward(self, x):
            x = x + self.attn(self.ln_1(x))
            return x + self.mlp(self.ln_2(x))
    class GPT(nn.Module):
        def __init__(self, vocab=50304, block=1024, layers=12, heads=12, d=768):
            super().__init__()
            self.wte, self.wpe = nn.Embedding(vocab, d), nn.Embedding(block, d)
            self.h = nn.ModuleList(Block(d, heads) for _ in range(layers))
            self.ln_f, self.lm_head = nn.LayerNorm(d), nn.Linear(d, vocab, bias=False)
            self.lm_head.weight = self.wte.weight
        def forward(self, idx):
            pos = torch.arange(idx.shape[1], device=idx.device)
            x = self.wte(idx) + self.wpe(pos)
            for block in self.h:
                x = block(x)
            return self.lm_head(self.ln_f(x))
    model = GPT()
    make = lambda: (torch.randint(0, 50304, (1, 64)), torch.randint(0, 50304, (1, 64)))
    loss_fn = lambda out, y: nn.functional.cross_entropy(out.view(-1, out.size(-1)), y.view(-1))
else:
    layer = nn.TransformerEncoderLayer(128, 4, 256, batch_first=True, dropout=0.0)
    model = nn.Sequential(nn.TransformerEncoder(layer, 2), nn.Linear(128, 10))
    make = lambda: (torch.randn(16, 32, 128), torch.randint(0, 10, (16, 32)))
    loss_fn = lambda out, y: nn.functional.cross_entropy(out.reshape(-1, 10), y.reshape(-1))
model = model.to(device)
opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
batches = [make() for _ in range(8)]
from contextlib import nullcontext
ctx = (torch.autocast(device.type, dtype=torch.bfloat16) if kind == "gpt2" and device.type != "cpu"
       else nullcontext())
def step(i):
    x, y = batches[i % len(batches)]
    x, y = x.to(device), y.to(device)
    with ctx:
        loss = loss_fn(model(x), y)
    opt.zero_grad()
    loss.backward()
    opt.step()
    return loss
step(0)
start, cpu_start = time.perf_counter(), time.process_time()
for i in range(steps):
    loss = step(i)
loss.item()
print("SECONDS", time.perf_counter() - start, "CPU", time.process_time() - cpu_start,
      "LOSS", float(loss.detach().float().cpu()))
'''


def measure(script: str, kind: str, steps: int, mock: bool, extra_env: dict[str, str]
            ) -> dict[str, float]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTTOOL_")}
    env.update(extra_env)
    device = "cpu"
    if mock:
        env["PYTHONPATH"] = str(INJECT) + (os.pathsep + env["PYTHONPATH"]
                                           if env.get("PYTHONPATH") else "")
        env["PORTTOOL_CHECK_MODE"] = "mock"
        device = "neuron"
    out = subprocess.run([sys.executable, script, kind, str(steps), device], env=env,
                         capture_output=True, text=True, check=True).stdout.split()
    fields = {out[i]: out[i + 1] for i in range(len(out) - 1) if out[i] in ("SECONDS", "CPU", "LOSS")}
    return {k: float(v) for k, v in fields.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=("mlp", "transformer", "gpt2"), default="mlp")
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--cpu-isa", help="cap oneDNN's ISA (ONEDNN_MAX_CPU_ISA) in both runs, e.g. "
                        "AVX2 to time a CPU without bf16 units on one that has them")
    parser.add_argument("--low-precision-kernels", action="store_true",
                        help="the mock runs the autocast matmul family in bf16 on the CPU (the "
                        "kernels before issue 14) instead of fp32 compute rounded to bf16")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    extra = {"ONEDNN_MAX_CPU_ISA": args.cpu_isa} if args.cpu_isa else {}
    mock_extra = dict(extra)
    if args.low_precision_kernels:
        mock_extra["PORTTOOL_MOCK_LOW_PRECISION_KERNELS"] = "1"
    with tempfile.TemporaryDirectory() as tmp:
        script = os.path.join(tmp, "train.py")
        Path(script).write_text(TRAIN)
        # Process CPU time (one intra-op thread): on a shared machine wall time measures the
        # neighbours; both are reported, the ratio is of CPU time.
        cpu_runs = [measure(script, args.model, args.steps, False, extra) for _ in range(args.repeat)]
        mock_runs = [measure(script, args.model, args.steps, True, mock_extra)
                     for _ in range(args.repeat)]
    import torch  # only for the record

    cpu = min(r["CPU"] for r in cpu_runs)
    mock = min(r["CPU"] for r in mock_runs)
    result = {
        "model": args.model,
        "steps": args.steps,
        "repeat": args.repeat,
        "torch": torch.__version__,
        "cpu_isa": args.cpu_isa or "native",
        "mock_kernels": "bf16 on the CPU" if args.low_precision_kernels else "fp32 rounded to bf16",
        "cpu_seconds": round(cpu, 4),
        "mock_seconds": round(mock, 4),
        "cpu_wall_seconds": round(min(r["SECONDS"] for r in cpu_runs), 4),
        "mock_wall_seconds": round(min(r["SECONDS"] for r in mock_runs), 4),
        "ratio": round(mock / cpu, 3),
        "per_step_overhead_ms": round((mock - cpu) / args.steps * 1000, 3),
        "last_loss_cpu": cpu_runs[0].get("LOSS"),
        "last_loss_mock": mock_runs[0].get("LOSS"),
    }
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
