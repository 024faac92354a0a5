"""Unported CUDA idioms, one per line of output: each prints `name: value` (written for the tests
of porttool's CPU redirect of CUDA; without the redirect this dies on a CPU-only machine)."""
import os
import tempfile

import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset


def show(name, value):
    print(f"{name}: {value}", flush=True)


show("is_available", torch.cuda.is_available())
show("device_count", torch.cuda.device_count())
show("bf16", torch.cuda.is_bf16_supported())
show("name", torch.cuda.get_device_name(0))
show("capability", torch.cuda.get_device_capability())
show("total_memory", torch.cuda.get_device_properties(0).total_memory > 0)
torch.cuda.set_device(0)
show("current_device", torch.cuda.current_device())
torch.cuda.synchronize()
torch.cuda.empty_cache()
show("memory_allocated", torch.cuda.memory_allocated())

x = torch.randn(4, 4, device="cuda")
show("factory", x.device.type)
show("to_cuda", torch.ones(2).to("cuda:0", non_blocking=True).device.type)
show("to_int", torch.ones(2).to(0).device.type)
show("tensor_device_int", torch.tensor([1.0, 2.0], device=0).device.type)
show("dot_cuda", torch.ones(2).cuda().device.type)
show("pin_memory", torch.ones(2).pin_memory().to(torch.device("cuda", 0)).device.type)
model = nn.Linear(4, 4).cuda()
show("module_cuda", next(model.parameters()).device.type)
weight = model.weight
model.to("cuda")
show("module_to_keeps_params", model.weight is weight)
with torch.device("cuda"):
    show("device_context", torch.zeros(1).device.type)
torch.set_default_device("cuda")
show("default_device", torch.zeros(1).device.type)
torch.set_default_device("cpu")
show("linear_device_kwarg", nn.Linear(2, 2, device="cuda").weight.device.type)

torch.cuda.manual_seed(123)
a = torch.rand(3)
torch.manual_seed(123)
b = torch.rand(3)
show("cuda_seed_is_the_cpu_generator", torch.equal(a, b))
show("rng_state_is_the_cpu_state", torch.equal(torch.cuda.get_rng_state(), torch.get_rng_state()))

start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
start.record()
y = x @ x
end.record()
torch.cuda.synchronize()
show("event_ms", start.elapsed_time(end) >= 0)
stream = torch.cuda.Stream()
with torch.cuda.stream(stream):
    y = y + 1
torch.cuda.current_stream().wait_stream(stream)
show("stream", y.device.type)

with torch.autocast(device_type="cuda", dtype=torch.float16):
    show("autocast_fp16", (x @ x).dtype)
    # CUDA's policy, not the CPU's: softmax and layer_norm in float32, einsum lowered
    show("autocast_policy", [torch.softmax(x @ x, -1).dtype, torch.nn.functional.layer_norm(x @ x, (4,)).dtype,
                             torch.einsum("ij,jk->ik", x, x).dtype, (x @ x).sum().dtype])
with torch.cuda.amp.autocast():
    show("cuda_amp_autocast_default", (x @ x).dtype)
with torch.autocast("cuda", dtype=torch.bfloat16):
    show("autocast_bf16", (x @ x).dtype)
scaler = torch.cuda.amp.GradScaler()
loss = model(torch.randn(2, 4, device="cuda")).sum()
scaler.scale(loss).backward()
opt = torch.optim.SGD(model.parameters(), lr=0.1)
scaler.step(opt)
scaler.update()
show("grad_scaler_scale", scaler.get_scale())

path = os.path.join(tempfile.mkdtemp(), "ckpt.pt")
torch.save({"w": model.state_dict()}, path)
state = torch.load(path, map_location="cuda:0")
show("load_map_location", state["w"]["weight"].device.type)
state = torch.load(path, map_location=lambda storage, loc: storage.cuda(0))
show("load_map_callable", state["w"]["weight"].device.type)

loader = DataLoader(TensorDataset(torch.arange(8.0)), batch_size=4, pin_memory=True)
show("dataloader_pin_memory", [b[0].device.type for b in loader])

import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel as DDP

store = dist.FileStore(os.path.join(tempfile.mkdtemp(), "store"), 1)
dist.init_process_group("nccl", store=store, rank=0, world_size=1)
show("backend", dist.get_backend())
ddp = DDP(model, device_ids=[0], output_device=0)
t = torch.ones(2, device="cuda")
dist.all_reduce(t)
show("ddp_all_reduce", t.tolist())
dist.barrier(device_ids=[0])
dist.destroy_process_group()

compiled = torch.compile(model)
show("compile_eager", compiled is model)
try:
    torch.cuda.CUDAGraph()
except RuntimeError as exc:
    show("cuda_graph", str(exc).split(";")[0])
try:
    torch.cuda.caching_allocator_alloc(16)
except RuntimeError as exc:
    show("no_cpu_meaning", str(exc).split(" has no")[0])
show("done", True)
