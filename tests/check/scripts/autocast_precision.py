"""bf16 autocast on the device: which dtypes the matmul kernels see, what they return, grads."""
import torch
from torch.utils._python_dispatch import TorchDispatchMode


class MatmulDtypes(TorchDispatchMode):
    def __init__(self) -> None:
        super().__init__()
        self.seen: list[str] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if func.__name__.split(".")[0] in ("mm", "addmm", "bmm", "_scaled_dot_product_flash_attention_for_cpu"):
            self.seen.append(func.__name__.split(".")[0] + ":" + ",".join(
                str(a.dtype).replace("torch.", "") for a in args if isinstance(a, torch.Tensor)))
        return func(*args, **(kwargs or {}))


torch.manual_seed(0)
lin = torch.nn.Linear(16, 8).to("neuron")
x = torch.randn(4, 16, device="neuron")
with MatmulDtypes() as mode, torch.autocast("neuron", dtype=torch.bfloat16):
    y = lin(x)
    z = y @ y.transpose(0, 1)
print("kernels", sorted(set(mode.seen)))
print("dtypes", y.dtype, z.dtype, y.device)
expected = torch.nn.functional.linear(x.cpu().bfloat16().float(), lin.weight.detach().cpu().bfloat16().float(),
                                      lin.bias.detach().cpu().bfloat16().float()).bfloat16()
print("rounded fp32 product", torch.equal(y.detach().cpu(), expected))
(z.float().sum()).backward()
print("grad dtypes", lin.weight.grad.dtype, lin.weight.grad.device)
