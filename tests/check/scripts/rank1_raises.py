"""Two torchrun workers: rank 1 raises, rank 0 finishes (torch is not imported: it stays fast)."""
import os
import time


def load_shard(rank: int) -> None:
    raise RuntimeError(f"rank {rank}: shard file is missing")   # line 7


rank = int(os.environ["RANK"])
if rank == 1:
    load_shard(rank)
time.sleep(1)
print(f"rank {rank} done", flush=True)
