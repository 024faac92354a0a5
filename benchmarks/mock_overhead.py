"""Cost of the CPU mock of the neuron device: the same small training loop on plain CPU and on
the mock, in fresh processes.  Prints (and optionally writes) JSON with the ratio.  Not a test.

    python benchmarks/mock_overhead.py [--model mlp|transformer] [--steps N] [--repeat R] [--out F]
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
else:
    layer = nn.TransformerEncoderLayer(128, 4, 256, batch_first=True, dropout=0.0)
    model = nn.Sequential(nn.TransformerEncoder(layer, 2), nn.Linear(128, 10))
    make = lambda: (torch.randn(16, 32, 128), torch.randint(0, 10, (16, 32)))
    loss_fn = lambda out, y: nn.functional.cross_entropy(out.reshape(-1, 10), y.reshape(-1))
model = model.to(device)
opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
batches = [make() for _ in range(8)]
def step(i):
    x, y = batches[i % len(batches)]
    x, y = x.to(device), y.to(device)
    loss = loss_fn(model(x), y)
    opt.zero_grad()
    loss.backward()
    opt.step()
    return loss
step(0)
start = time.perf_counter()
for i in range(steps):
    loss = step(i)
loss.item()
print("SECONDS", time.perf_counter() - start)
'''


def measure(script: str, kind: str, steps: int, mock: bool) -> float:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTTOOL_")}
    device = "cpu"
    if mock:
        env["PYTHONPATH"] = str(INJECT) + (os.pathsep + env["PYTHONPATH"]
                                           if env.get("PYTHONPATH") else "")
        env["PORTTOOL_CHECK_MODE"] = "mock"
        device = "neuron"
    out = subprocess.run([sys.executable, script, kind, str(steps), device], env=env,
                         capture_output=True, text=True, check=True)
    return float(out.stdout.split("SECONDS")[1].split()[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=("mlp", "transformer"), default="mlp")
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        script = os.path.join(tmp, "train.py")
        Path(script).write_text(TRAIN)
        cpu = min(measure(script, args.model, args.steps, False) for _ in range(args.repeat))
        mock = min(measure(script, args.model, args.steps, True) for _ in range(args.repeat))
    import torch  # only for the record

    result = {
        "model": args.model,
        "steps": args.steps,
        "repeat": args.repeat,
        "torch": torch.__version__,
        "cpu_seconds": round(cpu, 4),
        "mock_seconds": round(mock, 4),
        "ratio": round(mock / cpu, 3),
        "per_step_overhead_ms": round((mock - cpu) / args.steps * 1000, 3),
    }
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
