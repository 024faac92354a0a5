"""Generate a synthetic PyTorch project of N files for scaling curves: deterministic, varied.

About one file in four is CUDA-heavy training/inference code (device strings, `.cuda()`,
`torch.cuda.*`, AMP, cuDNN flags, NCCL, environment variables); the rest is ordinary model,
data and utility code that mentions `torch` and `device` but nothing CUDA-specific. Every file's
text differs (names and constants carry its index), so a content-hash cache sees N distinct files.

The `library` shape stands for a large model library (the 1.03 M-line diffusion library of
../shared/PERFORMANCE_NOTES.md): two files in seven are CUDA code, one in fourteen holds only
hints (`.item()` in a loop, `torch.float64`), one in seven names CUDA only in its documentation
(`>>> pipe.to("cuda")` in an example docstring, `.item()` and `torch.float64` in comments: 12%
of the diffusion library's files are like that), and the rest are long library modules full of
what only looks like a trigger — `.items()`, `device=device`, `numpy`, `download`, `loader`,
"where" in docstrings, `half`, `compile` in names — which a scan must reject without parsing.

    python benchmarks/synthetic.py OUT_DIR N [project|library]
"""

from __future__ import annotations

import sys
from pathlib import Path

CUDA_FILE = '''"""Training step {i}: written for a CUDA machine."""
import os
import torch
import torch.distributed as dist
from torch import nn
from torch.cuda.amp import GradScaler, autocast

os.environ["CUDA_VISIBLE_DEVICES"] = "{gpu}"
torch.backends.cudnn.benchmark = True
device = "cuda" if torch.cuda.is_available() else "cpu"


class Block{i}(nn.Module):
    def __init__(self, width: int = {width}) -> None:
        super().__init__()
        self.proj = nn.Linear(width, width)
        self.norm = nn.LayerNorm(width)

    def forward(self, x):
        return self.norm(torch.relu(self.proj(x))) + x


def setup_{i}(rank: int):
    dist.init_process_group(backend="nccl", rank=rank, world_size={world})
    torch.cuda.set_device(rank)
    model = Block{i}().cuda()
    return model, GradScaler()


def train_{i}(model, loader, optimizer, scaler, steps: int = {steps}):
    start = torch.cuda.Event(enable_timing=True)
    end = torch.cuda.Event(enable_timing=True)
    start.record()
    for step, (x, y) in enumerate(loader):
        x, y = x.to("cuda:0", non_blocking=True), y.cuda()
        with autocast():
            loss = nn.functional.mse_loss(model(x), y)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        optimizer.zero_grad(set_to_none=True)
        if step % {every} == 0:
            print(step, loss.item(), torch.cuda.memory_allocated())
        if step == steps:
            break
    end.record()
    torch.cuda.synchronize()
    return start.elapsed_time(end)


def load_{i}(path: str):
    state = torch.load(path, map_location="cuda")
    torch.cuda.empty_cache()
    return state
'''

PLAIN_FILE = '''"""Model and data utilities, part {i}."""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn


@dataclass
class Config{i}:
    width: int = {width}
    depth: int = {depth}
    dropout: float = 0.{drop}
    vocab: int = {vocab}


class Attention{i}(nn.Module):
    def __init__(self, cfg: Config{i}) -> None:
        super().__init__()
        self.qkv = nn.Linear(cfg.width, 3 * cfg.width)
        self.out = nn.Linear(cfg.width, cfg.width)
        self.heads = max(1, cfg.width // 64)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, c = x.shape
        q, k, v = self.qkv(x).split(c, dim=2)
        q = q.view(b, t, self.heads, c // self.heads).transpose(1, 2)
        k = k.view(b, t, self.heads, c // self.heads).transpose(1, 2)
        v = v.view(b, t, self.heads, c // self.heads).transpose(1, 2)
        att = (q @ k.transpose(-2, -1)) / math.sqrt(k.size(-1))
        att = torch.softmax(att, dim=-1)
        return self.out((att @ v).transpose(1, 2).reshape(b, t, c))


class Model{i}(nn.Module):
    def __init__(self, cfg: Config{i}) -> None:
        super().__init__()
        self.embed = nn.Embedding(cfg.vocab, cfg.width)
        self.layers = nn.ModuleList(Attention{i}(cfg) for _ in range(cfg.depth))
        self.head = nn.Linear(cfg.width, cfg.vocab, bias=False)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        x = self.embed(tokens)
        for layer in self.layers:
            x = x + layer(x)
        return self.head(x)


def batches_{i}(data: torch.Tensor, size: int, device: torch.device):
    for start in range(0, len(data) - size, size):
        chunk = data[start : start + size]
        yield chunk[:-1].to(device), chunk[1:].to(device)


def count_parameters_{i}(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
'''


LIBRARY_BLOCK = '''

class Pipeline{i}x{j}:
    """A pipeline stage, where `x` is the latent and `t` the timestep; half of the work is here."""

    def __init__(self, config: dict, device: str = "cpu") -> None:
        self.config = {{k: v for k, v in config.items() if not k.startswith("_")}}
        self.device = device
        self.loader = None

    def download_{j}(self, url: str, cache: str) -> str:
        """Download the weights where the cache says; compile the list of files to load."""
        files = [name for name, size in sorted(self.config.items()) if size]
        return cache + "/" + url.rsplit("/", 1)[-1] + str(len(files))

    def forward_{j}(self, latents: torch.Tensor, scale: float = {scale}) -> torch.Tensor:
        noise = torch.randn(latents.shape, generator=None, device=self.device, dtype=latents.dtype)
        weights = np.linspace(0.0, 1.0, num={steps}, dtype=np.float32)
        for step, weight in enumerate(list(weights)):
            latents = latents * (1 - weight) + noise * weight * scale
        return latents.to(device=self.device)
'''

LIBRARY_HEAD = '''"""Library module {i}: schedulers and pipelines, the same on every device."""
from __future__ import annotations

import numpy as np
import torch
from torch import nn
'''

PROSE_HEAD = '''"""Library module {i}: a pipeline whose documentation names the CUDA device."""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

EXAMPLE_DOC_STRING_{i} = """
    Examples:
        >>> pipe = Pipeline{i}x0.from_pretrained("org/model-{i}", torch_dtype=torch.float16)
        >>> pipe = pipe.to("cuda")
        >>> image = pipe(prompt).images[0]  # on "cuda:0"; `.item()` of the loss syncs
"""

# Runs on cuda when the caller moved the weights there; x.item() and torch.float64 stay out of
# the loop (both are slow on an accelerator).
'''

HINT_FILE = '''"""Evaluation helpers {i}: host reads in loops and float64 accumulators."""
import torch


def evaluate_{i}(model, batches):
    total = torch.zeros((), dtype=torch.float64)
    for x, y in batches:
        loss = torch.nn.functional.mse_loss(model(x), y)
        total += loss.item()
    return total / {every}
'''


def library_text(i: int) -> str:
    if i % 7 in (0, 1):
        return file_text(0 if i % 7 == 0 else 4 * i)
    if i % 14 == 2:
        return HINT_FILE.format(i=i, every=1 + i % 50)
    blocks = "".join(LIBRARY_BLOCK.format(i=i, j=j, scale=1 + (i + j) % 9, steps=10 + (i * j) % 90) for j in range(12))
    if i % 7 == 3:  # (CUDA in docstrings and comments only: no site, and no file to parse)
        return PROSE_HEAD.format(i=i) + blocks
    return LIBRARY_HEAD.format(i=i) + blocks


def file_text(i: int) -> str:
    if i % 4 == 0:
        return CUDA_FILE.format(i=i, gpu=i % 8, width=64 + i % 512, world=1 + i % 16, steps=100 + i % 900, every=1 + i % 50)
    return PLAIN_FILE.format(i=i, width=128 + i % 1024, depth=1 + i % 24, drop=i % 10, vocab=1000 + i)


def generate(out: Path, count: int, shape: str = "project") -> tuple[int, int]:
    """Write `count` files under `out` (100 per package folder); returns (files, lines)."""
    text_of = library_text if shape == "library" else file_text
    lines = 0
    for i in range(count):
        folder = out / f"pkg{i // 100:04d}"
        if i % 100 == 0:
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "__init__.py").write_text("")
        text = text_of(i)
        (folder / f"mod{i:06d}.py").write_text(text)
        lines += text.count("\n")
    return count + (count + 99) // 100, lines


if __name__ == "__main__":
    files, lines = generate(Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3] if len(sys.argv) > 3 else "project")
    print(f"{files} files, {lines} lines")
