"""
Train a small MLP regressor on synthetic data on whatever hardware is present.

Works unchanged on CUDA GPUs, Apple silicon (MPS) and CPU:

    python train.py                   # picks cuda > mps > cpu
    python train.py --device cpu      # force a device
    python train.py --accelerator-api # choose the device through torch.accelerator instead
"""

import argparse
import copy
import logging
import time

import torch
import torch.nn as nn

import devices

log = logging.getLogger("multi_backend")


class MLP(nn.Module):
    def __init__(self, d_in=16, hidden=64, d_out=1):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(d_in, hidden), nn.SiLU(),
            nn.Linear(hidden, hidden), nn.SiLU(),
            nn.Linear(hidden, d_out),
        )

    def forward(self, x):
        return self.net(x)


def make_data(n, d_in, seed, task_seed=1234):
    """y = sin(2 * x @ w) + noise, with the same hidden w for every split."""
    w = torch.randn(d_in, 1, generator=torch.Generator().manual_seed(task_seed)) / d_in ** 0.5
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d_in, generator=g)
    y = torch.sin(2 * x @ w) + 0.1 * torch.randn(n, 1, generator=g)
    return x, y


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default=None, help="cuda, cuda:1, mps or cpu (default: best available)")
    p.add_argument("--accelerator-api", action="store_true", help="pick the device with torch.accelerator")
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--amp", action="store_true", help="autocast (bf16, or fp16 + GradScaler on older GPUs)")
    p.add_argument("--debug", action="store_true", help="compare one batch against the GPU (needs CUDA)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")

    device = devices.accelerator_or_cpu() if args.accelerator_api else devices.pick_device(args.device)
    devices.seed_everything(args.seed)
    log.info("training on %s", devices.describe(device))

    # NOTE: no model.cuda() here: the device comes from devices.py
    model = MLP().to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr)
    amp_dtype = devices.autocast_dtype(device)
    scaler = torch.amp.GradScaler(device.type, enabled=args.amp and amp_dtype == torch.float16)

    x_all, y_all = make_data(2048, 16, args.seed)
    x_val, y_val = make_data(512, 16, args.seed + 1)
    x_val, y_val = x_val.to(device), y_val.to(device)
    g = torch.Generator().manual_seed(args.seed)

    t0 = time.perf_counter()
    for step in range(args.steps):
        idx = torch.randint(len(x_all), (args.batch_size,), generator=g)
        xb, yb = x_all[idx].to(device), y_all[idx].to(device)
        with torch.autocast(device_type=device.type, dtype=amp_dtype, enabled=args.amp):
            loss = nn.functional.mse_loss(model(xb).float(), yb)
        opt.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
        if step % 50 == 0:
            log.info("step %d: loss %.4f", step, loss.item())
    devices.synchronize(device)
    log.info("%d steps in %.2fs; memory: %s", args.steps, time.perf_counter() - t0, devices.memory_summary(device))

    if args.debug:
        import debug

        norm, ms = debug.check_batch_on_gpu(x_val[:8].cpu(), copy.deepcopy(model))
        log.info("debug: GPU output norm %.4f (%.2f ms)", norm, ms)

    model.eval()
    with torch.no_grad():
        val_loss = nn.functional.mse_loss(model(x_val), y_val).item()
    print(f"final loss {val_loss:.4f}")


if __name__ == "__main__":
    main()
