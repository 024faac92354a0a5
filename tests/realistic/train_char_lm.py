"""Train a tiny character-level transformer LM (single GPU, or DDP under torchrun)."""
import os
import sys
import time
from contextlib import nullcontext

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.distributed import destroy_process_group, init_process_group
from torch.nn.parallel import DistributedDataParallel as DDP

# config (override with --key=value)
device = 'cuda'
backend = 'nccl'
dtype = 'float16' if torch.cuda.is_available() else 'float32'
max_iters = 8
batch_size = 8
block_size = 16
n_embd = 32
learning_rate = 3e-3
for arg in sys.argv[1:]:
    key, value = arg.removeprefix('--').split('=')
    globals()[key] = type(globals()[key])(value)

text = "to be or not to be that is the question whether tis nobler in the mind to suffer " * 20
chars = sorted(set(text))
data = torch.tensor([chars.index(c) for c in text], dtype=torch.long)

ddp = int(os.environ.get('RANK', -1)) != -1
if ddp:
    init_process_group(backend=backend)
    rank = int(os.environ['RANK'])
    local_rank = int(os.environ['LOCAL_RANK'])
    if device.startswith('cuda'):
        device = f'cuda:{local_rank}'
        torch.cuda.set_device(device)
else:
    rank = 0
torch.manual_seed(1337 + rank)
torch.cuda.manual_seed_all(1337 + rank)
torch.backends.cuda.matmul.allow_tf32 = True
torch.backends.cudnn.allow_tf32 = True
device_type = 'cuda' if 'cuda' in device else 'cpu'
ptdtype = {'float32': torch.float32, 'float16': torch.float16}[dtype]
ctx = nullcontext() if device_type == 'cpu' else torch.autocast(device_type=device_type, dtype=ptdtype)


def get_batch():
    ix = torch.randint(len(data) - block_size, (batch_size,))
    x = torch.stack([data[i:i + block_size] for i in ix])
    y = torch.stack([data[i + 1:i + 1 + block_size] for i in ix])
    if device_type == 'cuda':
        x, y = x.pin_memory().to(device, non_blocking=True), y.pin_memory().to(device, non_blocking=True)
    else:
        x, y = x.to(device), y.to(device)
    return x, y


class TinyLM(nn.Module):
    def __init__(self, vocab):
        super().__init__()
        self.tok = nn.Embedding(vocab, n_embd)
        self.pos = nn.Embedding(block_size, n_embd)
        self.block = nn.TransformerEncoderLayer(n_embd, 4, 4 * n_embd, dropout=0.0, batch_first=True)
        self.head = nn.Linear(n_embd, vocab)

    def forward(self, idx, targets):
        pos = torch.arange(idx.size(1), device=idx.device)
        h = self.block(self.tok(idx) + self.pos(pos), is_causal=True,
                       src_mask=nn.Transformer.generate_square_subsequent_mask(idx.size(1), device=idx.device))
        logits = self.head(h)
        return F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1))


model = TinyLM(len(chars)).to(device)
scaler = torch.cuda.amp.GradScaler(enabled=(dtype == 'float16'))
optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate,
                              fused=(device_type == 'cuda'))
if ddp:
    model = DDP(model, device_ids=[local_rank] if device_type == 'cuda' else None)

for it in range(max_iters):
    t0 = time.time()
    x, y = get_batch()
    with ctx:
        loss = model(x, y)
    scaler.scale(loss).backward()
    scaler.step(optimizer)
    scaler.update()
    optimizer.zero_grad(set_to_none=True)
    if device_type == 'cuda':
        torch.cuda.synchronize()
    if rank == 0:
        print(f"iter {it}: loss {loss.item():.6f}, time {(time.time() - t0) * 1000:.1f}ms")

if ddp:
    torch.distributed.barrier()  # every rank done before the group goes
    destroy_process_group()
