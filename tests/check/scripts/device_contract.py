"""The neuron device contract the mock promises, checked inside one process."""
import io
import warnings

import torch

assert torch.device("neuron").type == "neuron"
assert torch.device("neuron", 0) == torch.device("neuron:0")
assert torch.accelerator.is_available() and torch.accelerator.device_count() >= 1
assert torch.accelerator.current_accelerator().type == "neuron"
torch.accelerator.set_device_index(0)
assert torch.accelerator.current_device_index() == 0
torch.accelerator.synchronize()
assert torch.accelerator.memory_allocated() >= 0

t = torch.tensor([1.0, 2.0], device="neuron")
assert t.device.type == "neuron" and t.tolist() == [1.0, 2.0]
z = torch.zeros(2, 3, device="neuron")
assert z.device == torch.device("neuron:0") and z.sum().item() == 0

torch.manual_seed(1)
a = torch.randn(3, device="neuron").cpu()
torch.manual_seed(1)
b = torch.randn(3, device="neuron").cpu()
assert torch.equal(a, b)

model = torch.nn.Linear(4, 4).to("neuron")
x = torch.randn(2, 4).to("neuron")
with torch.autocast("neuron", dtype=torch.bfloat16):
    assert model(x).dtype == torch.bfloat16
    assert (x @ x.T).dtype == torch.bfloat16
assert model(x).dtype == torch.float32

scaler = torch.amp.GradScaler("neuron")
opt = torch.optim.AdamW(model.parameters())
with torch.autocast("neuron", dtype=torch.bfloat16):
    loss = model(x).float().pow(2).mean()
scaler.scale(loss).backward()
scaler.step(opt)
scaler.update()
assert model.weight.grad.device.type == "neuron"

buf = io.BytesIO()
torch.save(model.state_dict(), buf)
buf.seek(0)
state = torch.load(buf, map_location="neuron")
assert state["weight"].device.type == "neuron"
model.load_state_dict(state)

with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    compiled = torch.compile(model, backend="neuron", mode="max-autotune")
assert any("only the default mode" in str(w.message) for w in caught)
assert compiled(x).device.type == "neuron"

event = torch.Event("neuron")
event.record()
assert "device_type=neuron" in repr(torch.Stream("neuron"))

try:
    x.numpy()
except TypeError as exc:
    assert "neuron:0" in str(exc)
else:
    raise AssertionError("numpy() of a device tensor must fail")
# A checkpoint saved from the device loads back onto it (its storages are tagged "neuron:0", as
# on a Neuron device); CPU tensors in it (an RNG state) stay on the CPU; map_location="cpu" wins.
buf = io.BytesIO()
torch.save({"model": model.state_dict(), "rng": torch.get_rng_state(), "w": model.weight}, buf)
buf.seek(0)
back = torch.load(buf)
assert back["model"]["weight"].device.type == "neuron" and back["w"].device.type == "neuron"
assert back["rng"].device.type == "cpu"
torch.set_rng_state(back["rng"])
buf.seek(0)
assert torch.load(buf, map_location="cpu")["w"].device.type == "cpu"
buf = io.BytesIO()
torch.save(model, buf)  # the whole module, with the mock's input hook on it
buf.seek(0)
whole = torch.load(buf, weights_only=False)
assert isinstance(whole.weight, torch.nn.Parameter) and whole.weight.device.type == "neuron"
assert whole(x).device.type == "neuron"

# Indexing with Python lists (nanoGPT's `x[:, [-1], :]`), as on any device.
cube = torch.arange(24.0).reshape(2, 3, 4)
dev_cube = cube.to("neuron")
assert dev_cube[:, [-1], :].device.type == "neuron"
assert torch.equal(dev_cube[:, [-1], :].cpu(), cube[:, [-1], :])
assert torch.equal(dev_cube[[1, 0]].cpu(), cube[[1, 0]])
assert torch.equal(dev_cube[[True, False]].cpu(), cube[[True, False]])
dev_cube[:, [0, 2]] = 0.0
cube[:, [0, 2]] = 0.0
assert torch.equal(dev_cube.cpu(), cube)
print("contract ok")
