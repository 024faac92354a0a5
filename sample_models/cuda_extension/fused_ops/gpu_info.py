"""GPU inventory through NVML (pynvml), if it is installed and a driver is present."""


def gpu_summary():
    try:
        import pynvml
    except ImportError:
        return "pynvml not installed; no GPU inventory"
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError as exc:
        return f"NVML unavailable ({exc})"
    try:
        lines = [f"driver {pynvml.nvmlSystemGetDriverVersion()}"]
        for i in range(pynvml.nvmlDeviceGetCount()):
            handle = pynvml.nvmlDeviceGetHandleByIndex(i)
            mem = pynvml.nvmlDeviceGetMemoryInfo(handle)
            util = pynvml.nvmlDeviceGetUtilizationRates(handle)
            lines.append(f"gpu {i}: {pynvml.nvmlDeviceGetName(handle)}, "
                         f"{mem.used / 2**30:.1f}/{mem.total / 2**30:.1f} GiB, {util.gpu}% busy")
        return "; ".join(lines)
    finally:
        pynvml.nvmlShutdown()
