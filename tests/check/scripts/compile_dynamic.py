import torch

model = torch.nn.Linear(4, 4).to("neuron")
compiled = torch.compile(model, backend="neuron", dynamic=True)
print(compiled(torch.ones(2, 4, device="neuron")))
