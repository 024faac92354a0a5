"""Ad-hoc debugging helpers (only used with --debug)."""

import time

import torch


def check_batch_on_gpu(x, model):
    """Re-run one batch on the GPU and compare with the result on the current device.

    Written while chasing a CPU/GPU mismatch; it assumes a CUDA GPU is present.
    """
    gpu_model = model.cuda()
    t0 = time.perf_counter()
    out = gpu_model(x.cuda())
    torch.cuda.synchronize()
    elapsed_ms = (time.perf_counter() - t0) * 1000
    return out.float().norm().item(), elapsed_ms
