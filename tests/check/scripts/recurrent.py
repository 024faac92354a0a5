"""Recurrent layers on the device match the CPU, forward and backward."""
import torch

for cls in (torch.nn.LSTM, torch.nn.GRU, torch.nn.RNN):
    m = cls(8, 16, num_layers=2).to("neuron")
    x = torch.randn(5, 3, 8, device="neuron")
    ref = cls(8, 16, num_layers=2)
    ref.load_state_dict({k: v.cpu() for k, v in m.state_dict().items()})
    out, _ = m(x)
    out.sum().backward()
    r, _ = ref(x.cpu())
    assert out.device.type == "neuron"
    assert torch.allclose(out.cpu(), r, atol=1e-5), cls
    print(cls.__name__, "ok", m.weight_ih_l0.grad.device)
