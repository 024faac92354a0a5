"""Factories and conversions given an integer device (the current accelerator, as in torch)."""
import torch

base = torch.ones(2, device="neuron")
built = {
    "tensor": torch.tensor([1.0, 2.0], device=0),
    "tensor_scalar": torch.tensor(3, device=0),
    "as_tensor": torch.as_tensor([1.0], device=0),
    "asarray": torch.asarray([1.0], device=0),
    "zeros": torch.zeros(2, device=0),
    "full": torch.full((2,), 7.0, device=0),
    "to": torch.ones(2).to(0),
    "module_to": torch.nn.Linear(2, 2).to(0).weight,
    "new_tensor": base.new_tensor([5.0, 6.0]),
    "new_tensor_int": base.new_tensor([5, 6], dtype=torch.int64),
    "new_tensor_of_tensor": base.new_tensor(torch.arange(3)),
    "new_zeros": base.new_zeros(3),
    "new_full": base.new_full((2,), 4.0),
}
for name, t in built.items():
    print(name, t.device, str(t.dtype).replace("torch.", ""), t.detach().cpu().tolist())
grad = base.new_tensor([1.0], requires_grad=True)
print("new_tensor requires_grad", grad.requires_grad, grad.is_leaf)
