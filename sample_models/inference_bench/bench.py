"""
Inference latency / memory benchmark for a small transformer encoder.

    python bench.py                         # fp16 autocast, 20 timed iterations
    python bench.py --fp32 --batch-size 32
    nsys profile -t cuda,nvtx python bench.py --iters 50   # NVTX ranges show up in Nsight
"""

import argparse
import os
import statistics

# fewer fragmentation OOMs when batch sizes vary between runs
os.environ.setdefault("PYTORCH_CUDA_ALLOC_CONF", "expandable_segments:True")

import torch
import torch.cuda.nvtx as nvtx
from torch.cuda import Event

from model import TinyEncoder


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cuda:0")
    p.add_argument("--iters", type=int, default=20, help="timed iterations")
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--seq-len", type=int, default=64)
    p.add_argument("--d-model", type=int, default=128)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--fp32", action="store_true", help="disable fp16 autocast")
    p.add_argument("--compile", action="store_true", help="benchmark the torch.compile'd model")
    p.add_argument("--cuda-graphs", action="store_true", help="replay the forward as a captured CUDA graph")
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args()


def mib(nbytes):
    return nbytes / 2**20


def describe_device():
    idx = torch.cuda.current_device()
    props = torch.cuda.get_device_properties(idx)
    major, minor = torch.cuda.get_device_capability(idx)
    print(f"device {idx}: {torch.cuda.get_device_name(0)} (sm_{major}{minor}, "
          f"{props.total_memory / 2**30:.1f} GiB, {props.multi_processor_count} SMs), "
          f"torch {torch.__version__}, CUDA {torch.version.cuda}")


def main():
    args = parse_args()
    torch.manual_seed(args.seed)
    device = torch.device(args.device)
    torch.zeros(1, device=0)  # create the CUDA context up front so it is not timed
    describe_device()

    model = TinyEncoder(d_model=args.d_model, n_layers=args.layers, max_len=max(256, args.seq_len))
    model = model.to(device).eval()
    if args.compile:
        model = torch.compile(model, mode="reduce-overhead", dynamic=True, backend="inductor")

    g = torch.Generator().manual_seed(args.seed)
    host_batches = [torch.randint(1000, (args.batch_size, args.seq_len), generator=g) for _ in range(4)]

    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats()
    mem_start = torch.cuda.memory_allocated()

    copy_stream = torch.cuda.Stream()

    def h2d(x_host):
        # copy on a side stream so the transfer can overlap the previous forward
        nvtx.range_push("h2d")
        with torch.cuda.stream(copy_stream):
            x = x_host.to(device, non_blocking=True)
        torch.cuda.current_stream().wait_stream(copy_stream)
        nvtx.range_pop()
        return x

    def forward(x):
        with torch.cuda.nvtx.range("forward"):
            with torch.autocast("cuda", dtype=torch.float16, enabled=not args.fp32):
                return model(x)

    with torch.inference_mode():
        for i in range(args.warmup):
            forward(h2d(host_batches[i % len(host_batches)]))
        torch.cuda.synchronize()

        graph = None
        if args.cuda_graphs:
            static_in = h2d(host_batches[0])
            side = torch.cuda.Stream()
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):
                forward(static_in)  # warm up on the capture stream
            torch.cuda.current_stream().wait_stream(side)
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph):
                static_out = forward(static_in)

        start, end = Event(enable_timing=True), Event(enable_timing=True)
        copy_start = torch.cuda.Event(enable_timing=True)
        latencies, copy_times = [], []
        checksum = 0.0
        for i in range(args.iters):
            x_host = host_batches[i % len(host_batches)]
            copy_start.record()
            if graph is not None:
                static_in.copy_(x_host, non_blocking=True)
                start.record()
                graph.replay()
                out = static_out
            else:
                x = h2d(x_host)
                start.record()
                out = forward(x)
            end.record()
            torch.cuda.current_stream().synchronize()
            latencies.append(start.elapsed_time(end))
            copy_times.append(copy_start.elapsed_time(start))
            checksum += out.float().sum().item()

    peak = torch.cuda.max_memory_allocated()
    reserved = torch.cuda.memory_reserved()
    p50 = statistics.median(latencies)
    p90 = sorted(latencies)[int(0.9 * (len(latencies) - 1))]
    print(f"batch {args.batch_size} x seq {args.seq_len}, {'fp32' if args.fp32 else 'fp16 autocast'}: "
          f"p50 {p50:.3f} ms, p90 {p90:.3f} ms, h2d {statistics.mean(copy_times):.3f} ms, "
          f"{1000 * args.batch_size / p50:.0f} seq/s")
    print(f"memory: start {mib(mem_start):.1f} MiB, peak {mib(peak):.1f} MiB, reserved {mib(reserved):.1f} MiB")
    del out
    torch.cuda.empty_cache()
    print(f"final checksum {checksum:.4f}")


if __name__ == "__main__":
    main()
