"""
Train a small character-level GPT on a synthetic corpus.

Single GPU:
    python train.py --steps 50

DDP on 4 GPUs of one node:
    torchrun --standalone --nproc_per_node=4 train.py --steps 200

Resume from the last checkpoint in --out-dir:
    python train.py --steps 100 --resume
"""

import argparse
import os
import random
import tempfile
import time
from contextlib import nullcontext

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel as DDP

from model import GPT, GPTConfig

WORDS = (
    "the quick brown fox jumps over lazy dog while small cats sleep near warm "
    "fires and old men tell long stories about ships kings cabbages sealing wax"
).split()


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=40, help="number of optimizer steps (max_iters)")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--block-size", type=int, default=32)
    p.add_argument("--n-layer", type=int, default=2)
    p.add_argument("--n-head", type=int, default=4)
    p.add_argument("--n-embd", type=int, default=64)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--grad-clip", type=float, default=1.0)
    p.add_argument("--eval-interval", type=int, default=20)
    p.add_argument("--eval-iters", type=int, default=4)
    p.add_argument("--log-interval", type=int, default=10)
    p.add_argument("--dtype", choices=["auto", "float32", "bfloat16", "float16"], default="auto",
                   help="autocast dtype; auto = bfloat16 where the GPU supports it, else float16")
    p.add_argument("--compile", action="store_true", help="wrap the model in torch.compile (slow first step)")
    p.add_argument("--out-dir", default=os.path.join(tempfile.gettempdir(), "gpt_trainer_out"),
                   help="where ckpt.pt is written (kept out of the source tree)")
    p.add_argument("--resume", action="store_true", help="resume from <out-dir>/ckpt.pt")
    p.add_argument("--seed", type=int, default=1337)
    return p.parse_args()


def build_corpus(seed, n_sentences=400):
    """A deterministic toy corpus: random sentences over a tiny vocabulary."""
    rng = random.Random(seed)
    lines = []
    for _ in range(n_sentences):
        n = rng.randint(4, 10)
        lines.append(" ".join(rng.choice(WORDS) for _ in range(n)) + ".")
    text = "\n".join(lines)
    chars = sorted(set(text))
    stoi = {ch: i for i, ch in enumerate(chars)}
    data = torch.tensor([stoi[c] for c in text], dtype=torch.long)
    n = int(0.9 * len(data))
    return data[:n], data[n:], chars


def main():
    args = parse_args()

    # -------------------------------------------------------------- distributed
    ddp = int(os.environ.get("RANK", -1)) != -1  # launched by torchrun?
    if ddp:
        assert torch.cuda.is_available(), "DDP training needs a GPU per process"
        dist.init_process_group(backend="nccl")
        ddp_rank = int(os.environ["RANK"])
        local_rank = int(os.environ["LOCAL_RANK"])
        world_size = int(os.environ["WORLD_SIZE"])
        device = f"cuda:{local_rank}"
        torch.cuda.set_device(local_rank)
        master_process = ddp_rank == 0  # this process does logging, checkpointing etc.
        seed_offset = ddp_rank  # each process gets a different seed
    else:
        master_process = True
        seed_offset = 0
        world_size = 1
        device = "cuda"
    device_type = "cuda" if "cuda" in device else "cpu"  # for later use in torch.autocast

    if master_process:
        os.makedirs(args.out_dir, exist_ok=True)
    torch.manual_seed(args.seed + seed_offset)
    torch.cuda.manual_seed(args.seed + seed_offset)
    torch.backends.cuda.matmul.allow_tf32 = True  # allow tf32 on matmul
    torch.backends.cudnn.allow_tf32 = True  # allow tf32 on cudnn

    if args.dtype == "auto":
        dtype = "bfloat16" if torch.cuda.is_bf16_supported() else "float16"
    else:
        dtype = args.dtype
    ptdtype = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[dtype]
    ctx = nullcontext() if dtype == "float32" else torch.cuda.amp.autocast(dtype=ptdtype)

    # -------------------------------------------------------------------- data
    train_data, val_data, chars = build_corpus(args.seed)
    data_gen = torch.Generator().manual_seed(args.seed + seed_offset)

    def get_batch(split, gen):
        data = train_data if split == "train" else val_data
        ix = torch.randint(len(data) - args.block_size, (args.batch_size,), generator=gen)
        x = torch.stack([data[i:i + args.block_size] for i in ix])
        y = torch.stack([data[i + 1:i + 1 + args.block_size] for i in ix])
        if device_type == "cuda":
            # pin arrays x,y, which allows us to move them to GPU asynchronously (non_blocking=True)
            x, y = x.pin_memory().to(device, non_blocking=True), y.pin_memory().to(device, non_blocking=True)
        else:
            x, y = x.to(device), y.to(device)
        return x, y

    # ------------------------------------------------------------------- model
    iter_num = 0
    best_val_loss = 1e9
    model_args = dict(n_layer=args.n_layer, n_head=args.n_head, n_embd=args.n_embd,
                      block_size=args.block_size, vocab_size=len(chars), dropout=0.0, bias=True)
    ckpt_path = os.path.join(args.out_dir, "ckpt.pt")
    checkpoint = None
    if args.resume:
        print(f"resuming training from {ckpt_path}")
        checkpoint = torch.load(ckpt_path, map_location="cuda")
        model_args.update(checkpoint["model_args"])
        iter_num = checkpoint["iter_num"]
        best_val_loss = checkpoint["best_val_loss"]
    model = GPT(GPTConfig(**model_args))
    if checkpoint is not None:
        state_dict = checkpoint["model"]
        # a checkpoint written by a torch.compile'd model has its keys prefixed
        unwanted_prefix = "_orig_mod."
        for k in list(state_dict.keys()):
            if k.startswith(unwanted_prefix):
                state_dict[k[len(unwanted_prefix):]] = state_dict.pop(k)
        model.load_state_dict(state_dict)
    model.to(device)
    if master_process:
        print(f"number of parameters: {model.get_num_params() / 1e3:.1f}K, dtype={dtype}, world_size={world_size}")

    # GradScaler is a no-op unless we train in float16
    scaler = torch.cuda.amp.GradScaler(enabled=(dtype == "float16"))
    optimizer = model.configure_optimizers(0.1, args.lr, (0.9, 0.95), device_type)
    if checkpoint is not None:
        optimizer.load_state_dict(checkpoint["optimizer"])
    checkpoint = None  # free up memory

    if args.compile:
        print("compiling the model... (takes a ~minute)")
        model = torch.compile(model, mode="max-autotune")

    if ddp:
        model = DDP(model, device_ids=[local_rank], output_device=local_rank)
    raw_model = model.module if ddp else model

    @torch.no_grad()
    def estimate_loss():
        out = {}
        model.eval()
        for split in ("train", "val"):
            gen = torch.Generator().manual_seed(args.seed + 1)  # same eval batches every time
            losses = torch.zeros(args.eval_iters)
            for k in range(args.eval_iters):
                X, Y = get_batch(split, gen)
                with ctx:
                    _, loss = model(X, Y)
                losses[k] = loss.item()
            out[split] = losses.mean().item()
        model.train()
        return out

    # -------------------------------------------------------------- train loop
    X, Y = get_batch("train", data_gen)
    torch.cuda.synchronize()
    t0 = time.time()
    start_iter = iter_num
    grad_norm = torch.zeros(())
    while iter_num < start_iter + args.steps:
        if iter_num > start_iter and iter_num % args.eval_interval == 0:
            losses = estimate_loss()
            if master_process:
                print(f"step {iter_num}: train loss {losses['train']:.4f}, val loss {losses['val']:.4f}")
                if losses["val"] < best_val_loss:
                    best_val_loss = losses["val"]
                    ckpt = {
                        "model": raw_model.state_dict(),
                        "optimizer": optimizer.state_dict(),
                        "model_args": model_args,
                        "iter_num": iter_num,
                        "best_val_loss": best_val_loss,
                    }
                    print(f"saving checkpoint to {args.out_dir}")
                    torch.save(ckpt, ckpt_path)

        with ctx:
            logits, loss = model(X, Y)
        X, Y = get_batch("train", data_gen)  # prefetch the next batch while the GPU works
        scaler.scale(loss).backward()
        if args.grad_clip != 0.0:
            scaler.unscale_(optimizer)
            grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), args.grad_clip)
        scaler.step(optimizer)
        scaler.update()
        optimizer.zero_grad(set_to_none=True)

        if iter_num % args.log_interval == 0 and master_process:
            lossf = loss.item()  # a CPU-GPU sync point
            torch.cuda.synchronize()
            dt = time.time() - t0
            print(f"iter {iter_num}: loss {lossf:.4f}, grad norm {float(grad_norm):.3f}, elapsed {dt * 1000:.0f}ms")
        iter_num += 1

    torch.cuda.synchronize()
    elapsed = time.time() - t0

    losses = estimate_loss()
    if master_process:
        ckpt = {
            "model": raw_model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "model_args": model_args,
            "iter_num": iter_num,
            "best_val_loss": min(best_val_loss, losses["val"]),
        }
        torch.save(ckpt, ckpt_path)
        print(f"trained {args.steps} steps in {elapsed:.2f}s ({args.steps / elapsed:.1f} it/s)")
        print(f"final loss {losses['val']:.4f}")
    if ddp:
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
