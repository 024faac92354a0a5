"""Loader helpers for launch scripts that score a trained sampler on one GPU of several
(not used by train.py): options spelled the way multi-GPU scripts often spell them."""

import argparse

import torch
from torch.utils.data import DataLoader, TensorDataset


def eval_args(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("--device", default="cuda:0", help="the GPU to evaluate on")
    p.add_argument("--no-pin-memory", dest="pin_memory", action="store_false", help="keep batches in pageable memory")
    return p.parse_args(argv)


def gpu_index(device):
    """The index in a "cuda:N" device string (None for a device without one)."""
    text = str(device)
    return int(text.replace("cuda:", "")) if text.startswith("cuda:") else None


def eval_loader(images, labels, args, batch_size=64):
    dataset = TensorDataset(images, labels)
    return DataLoader(dataset, batch_size=batch_size, shuffle=False, pin_memory=args.pin_memory)


def worker_options(workers):
    return {"num_workers": workers, "pin_memory": True, "persistent_workers": workers > 0}
