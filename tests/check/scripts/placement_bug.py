import torch

x = torch.ones(4, device="neuron")
bias = torch.ones(4)  # forgot .to("neuron")
y = x + bias
print(y)
