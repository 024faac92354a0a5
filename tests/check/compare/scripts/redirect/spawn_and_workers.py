"""CUDA used in mp.spawn children and DataLoader workers (for the tests of the CPU redirect)."""
import torch
import torch.multiprocessing as mp
from torch.utils.data import DataLoader, Dataset


class OnDevice(Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, i):
        assert torch.cuda.is_available()  # the worker answers as a CUDA host too
        return torch.full((2,), float(i), device="cuda").cpu()


def child(rank):
    t = torch.ones(3, device=f"cuda:{rank}") * (rank + 1)
    print(f"child {rank}: {t.sum().item()} on {t.device.type}, cuda {torch.cuda.is_available()}", flush=True)


if __name__ == "__main__":
    mp.spawn(child, nprocs=2)
    for ctx in ("fork", "spawn"):
        batches = list(DataLoader(OnDevice(), batch_size=2, num_workers=2, multiprocessing_context=ctx))
        print(f"workers ({ctx}): {[b.sum().item() for b in batches]}", flush=True)
