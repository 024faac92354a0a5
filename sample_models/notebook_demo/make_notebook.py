"""
Regenerate train_demo.ipynb (nbformat 4.5) with its stored outputs.

The outputs are what the notebook printed on a single-GPU CUDA machine; they are
kept in the file on purpose, because a port of the code cells must leave outputs,
metadata and markdown cells byte-identical.

    python make_notebook.py            # writes train_demo.ipynb next to this script
"""

import json
import os


def lines(text):
    """nbformat stores multi-line strings as a list of lines, each but the last ending in a newline."""
    parts = text.split("\n")
    return [p + "\n" for p in parts[:-1]] + ([parts[-1]] if parts[-1] else [])


def markdown(cell_id, text, metadata=None):
    return {"cell_type": "markdown", "id": cell_id, "metadata": metadata or {}, "source": lines(text)}


def code(cell_id, count, text, outputs=(), metadata=None):
    return {
        "cell_type": "code",
        "execution_count": count,
        "id": cell_id,
        "metadata": metadata or {},
        "outputs": list(outputs),
        "source": lines(text),
    }


def stream(text, name="stdout"):
    return {"name": name, "output_type": "stream", "text": lines(text)}


def result(count, text):
    return {"data": {"text/plain": lines(text)}, "execution_count": count, "metadata": {}, "output_type": "execute_result"}


def exec_meta(start, end, extra=None):
    meta = {
        "execution": {
            "iopub.execute_input": start,
            "iopub.status.busy": start,
            "iopub.status.idle": end,
            "shell.execute_reply": end,
        }
    }
    meta.update(extra or {})
    return meta


CELLS = [
    markdown("3f1c2a9e", """# Training demo: a 4-class toy problem on the GPU

This notebook trains a small MLP on a synthetic 2-D dataset (four Gaussian clusters).
It was written for a CUDA machine: the data and the model live on `cuda`, and the
training loop calls `torch.cuda.synchronize()` so the wall-clock timing is honest.

> Tip: run `nvidia-smi` in a terminal to watch the GPU while the training cell runs."""),
    code("a0b1c2d3", 1, """import time

import torch
import torch.nn as nn
import torch.nn.functional as F

print(torch.__version__)
print("CUDA available:", torch.cuda.is_available())
device = "cuda\"""", [stream("2.4.1+cu121\nCUDA available: True\n")],
         exec_meta("2024-11-05T14:02:11.318204Z", "2024-11-05T14:02:13.094512Z")),
    code("b4e5f6a7", 2, """# parameters
STEPS = 150
BATCH_SIZE = 128
SEED = 0""", [], exec_meta("2024-11-05T14:02:13.101772Z", "2024-11-05T14:02:13.105120Z", {"tags": ["parameters"]})),
    markdown("c8d9e0f1", """## Data

Four clusters with random centres; labels are the cluster index. Everything is created
on the CPU with a seeded generator and then moved to the GPU with `.cuda()`."""),
    code("d2e3f4a5", 3, """torch.manual_seed(SEED)
g = torch.Generator().manual_seed(SEED)
centers = torch.randn(4, 2, generator=g) * 3
labels = torch.randint(4, (2048,), generator=g)
points = centers[labels] + torch.randn(2048, 2, generator=g)
x, y = points.cuda(), labels.cuda()
x.shape, y.shape""", [result(3, "(torch.Size([2048, 2]), torch.Size([2048]))")],
         exec_meta("2024-11-05T14:02:13.112930Z", "2024-11-05T14:02:13.418377Z")),
    code("e6f7a8b9", 4, """model = nn.Sequential(
    nn.Linear(2, 64),
    nn.ReLU(),
    nn.Linear(64, 64),
    nn.ReLU(),
    nn.Linear(64, 4),
).cuda()
opt = torch.optim.Adam(model.parameters(), lr=1e-2)
model""", [result(4, """Sequential(
  (0): Linear(in_features=2, out_features=64, bias=True)
  (1): ReLU()
  (2): Linear(in_features=64, out_features=64, bias=True)
  (3): ReLU()
  (4): Linear(in_features=64, out_features=4, bias=True)
)""")], exec_meta("2024-11-05T14:02:13.425610Z", "2024-11-05T14:02:13.447081Z")),
    markdown("f0a1b2c3", """## Train

`loss.item()` copies the loss back to the host, so we only do it every 50 steps."""),
    code("0a1b2c3d", 5, """torch.cuda.synchronize()
t0 = time.time()
for step in range(STEPS):
    idx = torch.randint(len(x), (BATCH_SIZE,), generator=g).to(device)
    loss = F.cross_entropy(model(x[idx]), y[idx])
    opt.zero_grad()
    loss.backward()
    opt.step()
    if step % 50 == 0:
        print(f"step {step:4d}  loss {loss.item():.4f}")
torch.cuda.synchronize()
print(f"{STEPS} steps in {time.time() - t0:.2f}s")""",
         [stream("step    0  loss 1.3789\nstep   50  loss 0.0151\nstep  100  loss 0.0413\n150 steps in 0.38s\n")],
         exec_meta("2024-11-05T14:02:13.455302Z", "2024-11-05T14:02:13.840118Z", {"scrolled": True})),
    code("4e5f6a7b", 6, """with torch.no_grad():
    acc = (model(x).argmax(dim=1) == y).float().mean().item()
print(f"final accuracy {acc:.4f}")
round(acc, 4)""", [stream("final accuracy 0.9912\n"), result(6, "0.9912")],
         exec_meta("2024-11-05T14:02:13.847455Z", "2024-11-05T14:02:13.852001Z")),
    markdown("8c9d0e1f", """## Memory

The CUDA caching allocator keeps freed blocks around; `torch.cuda.memory_allocated()` only
counts live tensors (data, weights, Adam state)."""),
    code("2a3b4c5d", 7, "torch.cuda.memory_allocated() / 2**20", [result(7, "0.16650390625")],
         exec_meta("2024-11-05T14:02:13.858846Z", "2024-11-05T14:02:13.861012Z")),
]

NOTEBOOK = {
    "cells": CELLS,
    "metadata": {
        "accelerator": "GPU",
        "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
        "language_info": {
            "codemirror_mode": {"name": "ipython", "version": 3},
            "file_extension": ".py",
            "mimetype": "text/x-python",
            "name": "python",
            "nbconvert_exporter": "python",
            "pygments_lexer": "ipython3",
            "version": "3.10.14",
        },
    },
    "nbformat": 4,
    "nbformat_minor": 5,
}

if __name__ == "__main__":
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "train_demo.ipynb")
    with open(out, "w", encoding="utf-8", newline="\n") as f:
        # the same layout nbformat.write() produces: sorted keys, one-space indent, trailing newline
        f.write(json.dumps(NOTEBOOK, sort_keys=True, indent=1, ensure_ascii=False) + "\n")
    print(f"wrote {out}")
