import torch

x = torch.ones(4, device="neuron")
if torch.cuda.is_available():
    print("never on neuron")
torch.cuda.synchronize()
print("unreachable")
