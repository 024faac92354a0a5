
import torch
import torch.distributed as dist

dist.init_process_group("neuron")
rank, world = dist.get_rank(), dist.get_world_size()
t = torch.full((3,), float(rank + 1), device="neuron")
dist.all_reduce(t)
expected = float(sum(range(1, world + 1)))
assert t.device.type == "neuron", t.device
assert t.tolist() == [expected] * 3, (t.tolist(), expected)
print(f"rank {rank}/{world} all_reduce ok: {t.tolist()}")
dist.destroy_process_group()
