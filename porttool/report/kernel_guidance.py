"""What to do with one custom kernel on each target, from what the kernel computes.

The kind of a kernel is guessed from its names (the file stem first, then its `__global__` or
Triton function names): an attention kernel's PyTorch replacement is
`scaled_dot_product_attention`, a layer norm's is `F.layer_norm`, and so on. A guess is labelled
as one on the page; a kernel of no known kind gets the general advice.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Kind:
    key: str
    label: str
    pattern: re.Pattern[str]
    pytorch: str  # the PyTorch operators that compute the same thing
    nki: str = ""  # a pointer for the NKI port, where there is a better one than the general advice


def _k(key: str, label: str, pattern: str, pytorch: str, nki: str = "") -> Kind:
    return Kind(key, label, re.compile(pattern), pytorch, nki)


# Order matters: the first kind whose pattern matches wins (attention before softmax: an attention
# kernel's file holds softmax kernels; a gradient norm is a reduction, not a layer norm).
KINDS: tuple[Kind, ...] = (
    _k("attention", "attention", r"attn|attention|flash|sdpa|mha|qkv", "`torch.nn.functional.scaled_dot_product_attention` (mind the layout: SDPA takes `(batch, heads, seq, head_dim)`)", "an NKI flash-attention kernel (aws-neuron/nki-library) where SDPA is not fast enough"),
    _k("quantization", "quantization", r"quant|int8|int4|fp8|nf4|4bit|8bit|fp4", "`torch.matmul` on weights dequantized to bf16 (PyTorch has no fused low-bit kernel)", "Neuron's own quantized-weight support; otherwise keep bf16 weights"),
    _k("reduction", "reduction / norm of a vector", r"global_norm|grad_norm|clip|reduce|reduction|(?<![a-z])sum|norm_kernel|mean_kernel", "`torch.linalg.vector_norm`, `torch.sum` / `torch.mean`"),
    _k("cross-entropy", "loss / classifier", r"cross_?entropy|crossentropy|classifier|nll|logits|loss", "`torch.nn.functional.cross_entropy` (it fuses the softmax)"),
    _k("softmax", "softmax", r"softmax", "`torch.softmax`"),
    _k("normalization", "normalization", r"layer_?norm|layernorm|rms_?norm|rmsnorm|group_?norm|batch_?norm|(?<![a-z])norm", "`torch.nn.functional.layer_norm` / `torch.nn.functional.rms_norm`", "aws-neuron/nki-library's RMSNorm/LayerNorm kernels"),
    _k("rotary", "rotary embedding", r"rope|rotary", "PyTorch ops: `x * cos + rotate_half(x) * sin`"),
    _k("activation", "activation", r"gelu|geglu|swiglu|silu|swish|relu|activation|glu", "`torch.nn.functional.gelu(approximate=\"tanh\")` / `silu` (and a multiply for GLU variants)"),
    _k("matmul", "matmul / linear", r"matmul|gemm|linear|(?<![a-z])b?mm(?![a-z])|moe|expert", "`torch.matmul` / `torch.nn.functional.linear` (per expert for a grouped GEMM)", "the NKI matmul tutorial kernels; the Neuron compiler usually does better from plain `matmul`"),
    _k("optimizer", "optimizer step", r"adam|sgd|lamb|lion|optim|momentum", "`torch.optim.AdamW` (the default foreach implementation)"),
    _k("embedding", "embedding / encoder", r"embed|encoder|wte|wpe|positional", "`torch.nn.functional.embedding` plus an add"),
    _k("collective", "collective communication", r"nccl|all_?reduce|allgather|all_?gather|reduce_scatter", "`torch.distributed` collectives (`all_reduce`, ...) on the target's process group"),
    _k("layout", "copy / layout", r"permute|transpose|copy|cast|gather|scatter|zero|fill|pack|unpack", "tensor ops: `.permute`, `.to(dtype)`, `torch.gather` / `scatter`"),
    _k("elementwise", "elementwise", r"residual|add|scale|mul|bias|elementwise|dropout", "plain tensor arithmetic (`x + alpha * y`), fused by `torch.compile`"),
)
GENERIC = Kind("custom", "custom kernel", re.compile(r"$^"), "PyTorch operators that compute the same result (fused by `torch.compile` where it matters)")


def kind_of(names: Iterable[str], first: str = "") -> Kind:
    """The kind of a kernel named `first` (a file stem, a function), else the commonest kind of
    `names` (its kernel functions), else `GENERIC`."""
    if first:
        found = _match(first)
        if found is not None:
            return found
    votes = Counter(k.key for k in (_match(n) for n in names) if k is not None)
    if not votes:
        return GENERIC
    best = max(votes.values())
    return next(k for k in KINDS if votes.get(k.key) == best)


def _match(name: str) -> Kind | None:
    text = name.lower()
    return next((k for k in KINDS if k.pattern.search(text)), None)


def advice(kind: Kind, target: str, form: str) -> str:
    """What to do on `target` with a kernel of `kind` written as `form` (cuda | triton | inline)."""
    pytorch = kind.pytorch
    if target == "portable":
        keep = "keep the Triton kernel for devices Triton supports (CUDA, ROCm, XPU) and" if form == "triton" else "keep the CUDA kernel only behind `torch.cuda.is_available()` and"
        return f"PyTorch fallback: {pytorch}; {keep} call the fallback everywhere else (it must also run on a CPU)."
    nki = kind.nki or "an NKI kernel (`@nki.jit`, registered as a PyTorch custom op)"
    model = " NKI is tile-based like `triton.language`, the closest model to port the kernel to." if form == "triton" else ""
    if target == "neuron-xla":
        return f"Use {pytorch} under XLA (the Neuron compiler fuses it); where that is too slow, {nki} called through PyTorch/XLA.{model}"
    return f"Use {pytorch} on the `neuron` device first; where that is too slow, {nki}.{model}"


def standalone_advice(target: str) -> str:
    return (
        f"A program of its own (it has `main`), not reached from Python: the Python port for {target} "
        "does not need it. Port it only if the program itself must run there (CUDA C has no Neuron "
        "compiler: rewrite its kernels as NKI or its algorithm in PyTorch)."
    )
