"""Every field of the runtime report in one short run: host syncs, shapes, fp64, a CUDA query."""
import torch

model = torch.nn.Linear(8, 2).to("neuron")
total = 0.0
for batch in (4, 4, 4, 3):  # the last, smaller batch is a second input signature
    out = model(torch.randn(batch, 8, device="neuron"))
    total += out.sum().item()  # host sync, line 8
stats = out.double()  # float64 on the device, line 9
print(out.tolist())  # host sync, line 10
if torch.cuda.is_available():  # a leftover query, line 11: answers False, fails the check
    print("not reached")
print("done", total != 0.0)
