import torch

batch = torch.ones(4)
staged = (batch
          * 2).pin_memory()   # line 5: the failing call (PT402's site is the call, line 4)
print(staged.to("neuron"))
