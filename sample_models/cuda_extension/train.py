"""
Train a small transformer that uses the fused ops (with their fallbacks) on a
synthetic next-token task: each sequence is an arithmetic progression mod V.

    pip install -e .            # optional: build the CUDA extension
    python train.py --steps 40  # any missing fast path falls back to PyTorch
"""

import argparse
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

from fused_ops import (
    FusedBiasGELU,
    LayerNorm,
    attention,
    attention_backend,
    gelu_backend,
    gpu_summary,
    layer_norm_backend,
    make_optimizer,
    residual_add,
    squared_relu,
)


class Block(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.ln1 = LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.ln2 = LayerNorm(dim)
        self.fc1 = FusedBiasGELU(dim, 4 * dim)
        self.fc2 = nn.Linear(4 * dim, dim)

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = self.qkv(self.ln1(x)).view(B, T, 3, self.heads, C // self.heads).unbind(2)
        h = attention(q, k, v, causal=True).reshape(B, T, C)
        x = residual_add(x, self.proj(h))
        return residual_add(x, self.fc2(self.fc1(self.ln2(x))))


class TinyLM(nn.Module):
    def __init__(self, vocab, dim=64, heads=4, layers=2, max_len=64):
        super().__init__()
        self.tok = nn.Embedding(vocab, dim)
        self.pos = nn.Parameter(torch.zeros(1, max_len, dim))
        self.blocks = nn.ModuleList(Block(dim, heads) for _ in range(layers))
        self.ln_f = LayerNorm(dim)
        self.head = nn.Linear(dim, vocab)

    def forward(self, idx):
        x = self.tok(idx) + self.pos[:, : idx.size(1)]
        for blk in self.blocks:
            x = blk(x)
        return self.head(self.ln_f(x))


def make_batch(batch, seq_len, vocab, gen):
    start = torch.randint(vocab, (batch, 1), generator=gen)
    stride = torch.randint(1, 4, (batch, 1), generator=gen)
    seq = (start + stride * torch.arange(seq_len + 1)) % vocab
    return seq[:, :-1], seq[:, 1:]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=40)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--seq-len", type=int, default=32)
    p.add_argument("--vocab", type=int, default=32)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--optimizer", choices=["auto", "apex", "8bit", "torch"], default="auto")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()

    torch.manual_seed(args.seed)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    print(gpu_summary())

    model = TinyLM(args.vocab, max_len=args.seq_len).to(device)
    opt = make_optimizer(model.parameters(), lr=args.lr, weight_decay=0.01, kind=args.optimizer)
    gen = torch.Generator().manual_seed(args.seed)
    probe = torch.zeros(1, 1, 8, 16, device=device)
    print(f"backends: gelu={gelu_backend()} attention={attention_backend(probe)} "
          f"layernorm={layer_norm_backend()} optimizer={type(opt).__module__}.{type(opt).__name__}")

    t0 = time.time()
    for step in range(args.steps):
        x, y = make_batch(args.batch_size, args.seq_len, args.vocab, gen)
        x, y = x.to(device), y.to(device)
        logits = model(x)
        loss = F.cross_entropy(logits.reshape(-1, args.vocab), y.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step % 10 == 0:
            print(f"step {step}: loss {loss.item():.4f}")

    model.eval()
    with torch.no_grad():
        x, y = make_batch(64, args.seq_len, args.vocab, torch.Generator().manual_seed(args.seed + 1))
        x, y = x.to(device), y.to(device)
        logits = model(x)
        val_loss = F.cross_entropy(logits.reshape(-1, args.vocab), y.reshape(-1)).item()
        acc = (logits.argmax(-1) == y).float().mean().item()
        h = model.blocks[0].fc1.linear(model.blocks[0].ln2(model.tok(x)))
        dead = (squared_relu(h) == 0).float().mean().item()
    print(f"{args.steps} steps in {time.time() - t0:.2f}s, val acc {acc:.3f}, "
          f"{100 * dead:.1f}% of fc1 pre-activations <= 0")
    print(f"final loss {val_loss:.4f}")


if __name__ == "__main__":
    main()
