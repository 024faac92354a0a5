"""
Device helpers shared by the training scripts.

We run on NVIDIA GPUs (CUDA), Apple silicon (MPS) and plain CPU. Anything
device-specific lives here, so the rest of the code base never has to say
"cuda" itself. To pin a job to one GPU, set CUDA_VISIBLE_DEVICES in the
launcher, not in Python.
"""

import logging

import torch

log = logging.getLogger(__name__)


def pick_device(preferred=None):
    """Return the device to train on: `preferred` if given, else CUDA, then MPS, then CPU."""
    if preferred:
        return torch.device(preferred)
    if torch.cuda.is_available():
        return torch.device("cuda")
    elif torch.backends.mps.is_available():
        return torch.device("mps")
    else:
        log.info("no CUDA or MPS device found, using the CPU")
        return torch.device("cpu")


def accelerator_or_cpu():
    """The same choice through torch.accelerator (PyTorch >= 2.6): any backend, no names."""
    if torch.accelerator.is_available():
        return torch.accelerator.current_accelerator()
    return torch.device("cpu")


def synchronize(device):
    """Wait for queued kernels, e.g. before reading a timer. A no-op on the CPU."""
    if device.type != "cpu":
        torch.accelerator.synchronize()


def seed_everything(seed):
    # torch.manual_seed seeds the CPU and every accelerator's generator (CUDA included)
    torch.manual_seed(seed)


def autocast_dtype(device):
    """bf16 where it is fast, fp16 on older CUDA GPUs and on MPS, bf16 on the CPU."""
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device.type == "mps":
        return torch.float16
    return torch.bfloat16


def memory_summary(device):
    """Human-readable allocator stats for the log line, per backend."""
    if device.type == "cuda":
        return f"{torch.cuda.memory_allocated(device) / 2**20:.1f} MiB allocated (CUDA caching allocator)"
    if device.type == "mps":
        return f"{torch.mps.current_allocated_memory() / 2**20:.1f} MiB allocated (MPS)"
    return "n/a on cpu"


def describe(device):
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    if device.type == "mps":
        return "mps (Apple GPU)"
    return device.type
