"""LayerNorm: apex's fused kernel when apex was built with --cuda_ext, else torch.nn.LayerNorm."""

try:
    import apex  # noqa: F401  (pip install from github.com/NVIDIA/apex with --cuda_ext)
    from apex.normalization import FusedLayerNorm as LayerNorm

    _BACKEND = "apex"
except ImportError:
    from torch.nn import LayerNorm

    _BACKEND = "pytorch"


def layer_norm_backend():
    return _BACKEND
