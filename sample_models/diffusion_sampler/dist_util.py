"""
Helpers for distributed sampling, in the style of guided-diffusion's dist_util.py
(which used MPI; here the launcher is torchrun).
"""

import os

import torch as th
import torch.distributed as dist


def setup_dist():
    """Join the process group when launched by torchrun; a no-op for a single process."""
    if dist.is_initialized() or "RANK" not in os.environ:
        return
    if th.cuda.is_available() and dist.is_nccl_available():
        backend = dist.Backend.NCCL
    else:
        backend = "gloo"
    dist.init_process_group(backend=backend)
    if th.cuda.is_available():
        th.cuda.set_device(int(os.environ["LOCAL_RANK"]))


def dev():
    """The device this process should use."""
    if th.cuda.is_available():
        return th.device(f"cuda:{int(os.environ.get('LOCAL_RANK', 0))}")
    return th.device("cpu")


def device_type(requested=""):
    """The device type for logs: the one asked for, else the first backend this machine has."""
    if requested:
        assert requested in ("cuda", "mps", "cpu"), f"unknown device type {requested}"
        return requested
    if th.cuda.is_available():
        return "cuda"
    elif th.backends.mps.is_available():
        return "mps"
    else:
        return "cpu"


def get_rank():
    return dist.get_rank() if dist.is_initialized() else 0


def get_world_size():
    return dist.get_world_size() if dist.is_initialized() else 1


def sync_params(params):
    """Make every rank start from rank 0's weights."""
    if not dist.is_initialized():
        return
    for p in params:
        with th.no_grad():
            dist.broadcast(p, 0)


def all_gather_cat(x):
    if not dist.is_initialized():
        return x
    parts = [th.zeros_like(x) for _ in range(get_world_size())]
    dist.all_gather(parts, x)
    return th.cat(parts)
