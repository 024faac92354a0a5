"""
Train a tiny DDPM on synthetic blob images for a few steps, then sample from it.

    python sample.py                                   # fp32, 1 GPU
    python sample.py --use-fp16                        # fp16 autocast + loss scaling
    python sample.py --train-steps 500 --diffusion-steps 250
    torchrun --nproc_per_node=2 sample.py              # each rank draws its share of samples

Samples are written (as float16) to <out-dir>/samples_<N>x<H>x<W>.npz.
"""

import argparse
import copy
import os
import tempfile
import time

import numpy as np
import torch as th

import dist_util
from diffusion import GaussianDiffusion, get_named_beta_schedule
from unet import TinyUNet


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--train-steps", type=int, default=30)
    p.add_argument("--diffusion-steps", type=int, default=40, help="timesteps of the noise schedule")
    p.add_argument("--schedule", choices=["linear", "cosine"], default="cosine")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--num-samples", type=int, default=8, help="samples per rank")
    p.add_argument("--image-size", type=int, default=16)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--ema-rate", type=float, default=0.9)
    p.add_argument("--use-fp16", action="store_true", help="fp16 autocast + GradScaler")
    p.add_argument("--default-cuda-tensors", action="store_true",
                   help="legacy mode: make new tensors CUDA float tensors by default")
    p.add_argument("--out-dir", default=os.path.join(tempfile.gettempdir(), "diffusion_sampler_out"))
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args()


def synthetic_batch(batch_size, size, gen):
    """Gaussian blobs at random positions, scaled to [-1, 1]."""
    coords = th.arange(size, dtype=th.float32)
    centers = th.rand(batch_size, 2, generator=gen) * (size - 4) + 2
    widths = th.rand(batch_size, 1, 1, generator=gen) * 2 + 1.5
    dy = (coords.view(1, -1, 1) - centers[:, 0].view(-1, 1, 1)) ** 2
    dx = (coords.view(1, 1, -1) - centers[:, 1].view(-1, 1, 1)) ** 2
    img = th.exp(-(dx + dy) / (2 * widths ** 2))
    return (img * 2 - 1).unsqueeze(1)


@th.no_grad()
def update_ema(ema_params, params, rate):
    for targ, src in zip(ema_params, params):
        targ.detach().mul_(rate).add_(src, alpha=1 - rate)


def main():
    args = parse_args()
    dist_util.setup_dist()
    rank = dist_util.get_rank()
    device = dist_util.dev()

    if args.default_cuda_tensors:
        # old scripts did this instead of passing device= everywhere
        th.set_default_tensor_type(th.cuda.FloatTensor)

    th.manual_seed(args.seed)
    if th.cuda.is_available():
        th.cuda.manual_seed_all(args.seed)

    betas = get_named_beta_schedule(args.schedule, args.diffusion_steps)
    diffusion = GaussianDiffusion(betas, device, use_fp16=args.use_fp16)
    model = TinyUNet().to(device)
    dist_util.sync_params(model.parameters())
    ema_model = copy.deepcopy(model)

    # ---------------------------------------------------------------- train
    opt = th.optim.AdamW(model.parameters(), lr=args.lr)
    scaler = th.amp.GradScaler("cuda", enabled=args.use_fp16)
    data_gen = th.Generator().manual_seed(args.seed + rank)
    t0 = time.time()
    for step in range(args.train_steps):
        x_start = synthetic_batch(args.batch_size, args.image_size, data_gen).to(device)
        t = th.randint(0, diffusion.num_timesteps, (args.batch_size,), device=device)
        loss = diffusion.training_losses(model, x_start, t)
        opt.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        if dist_util.get_world_size() > 1:
            for p in model.parameters():
                th.distributed.all_reduce(p.grad)
                p.grad /= dist_util.get_world_size()
        scaler.step(opt)
        scaler.update()
        update_ema(ema_model.parameters(), model.parameters(), args.ema_rate)
        if step % 10 == 0 and rank == 0:
            print(f"step {step}: loss {loss.item():.4f}")
    if rank == 0:
        print(f"trained {args.train_steps} steps in {time.time() - t0:.2f}s")

    # --------------------------------------------------------------- sample
    model.eval()
    ema_model.eval()
    shape = (args.num_samples, 1, args.image_size, args.image_size)
    th.manual_seed(args.seed + 1000 + rank)
    # remember the generator so the EMA weights see exactly the same noise
    rng_state = th.cuda.get_rng_state()
    samples = diffusion.p_sample_loop(model, shape)
    th.cuda.set_rng_state(rng_state)
    ema_samples = diffusion.p_sample_loop(ema_model, shape)
    if samples.is_cuda:
        th.cuda.synchronize()

    # a cheap reproducibility check: same noise -> highly correlated samples
    corr = th.corrcoef(th.stack([samples.flatten(), ema_samples.flatten()]).double())[0, 1]

    all_samples = dist_util.all_gather_cat(ema_samples.contiguous())
    if rank == 0:
        arr = all_samples.type(th.cuda.HalfTensor)  # store in fp16: half the file size
        if arr.is_cuda:
            arr = arr.cpu()
        arr = arr.numpy()
        os.makedirs(args.out_dir, exist_ok=True)
        out_path = os.path.join(args.out_dir, "samples_{}.npz".format("x".join(str(s) for s in arr.shape)))
        np.savez(out_path, arr)
        print(f"saved {arr.shape[0]} samples to {out_path} (raw/EMA correlation {corr.item():.3f})")
        print(f"final sample mean {arr.astype(np.float32).mean():.4f} std {arr.astype(np.float32).std():.4f}")
    if th.distributed.is_initialized():
        th.distributed.destroy_process_group()


if __name__ == "__main__":
    main()
