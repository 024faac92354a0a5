"""Build the fused_gelu_cuda extension:  pip install -e .   (needs nvcc and a CUDA build of PyTorch)"""

import os

from setuptools import setup
from torch.utils.cpp_extension import BuildExtension, CUDAExtension

here = os.path.dirname(os.path.abspath(__file__))

# A100 and H100 by default; override with TORCH_CUDA_ARCH_LIST="8.0;9.0"
os.environ.setdefault("TORCH_CUDA_ARCH_LIST", "8.0;8.6;9.0")

setup(
    name="fused_ops",
    version="0.1.0",
    description="Fused bias+GELU CUDA kernel with pure-PyTorch fallbacks",
    packages=["fused_ops"],
    ext_modules=[
        CUDAExtension(
            name="fused_gelu_cuda",
            sources=[
                os.path.join("csrc", "fused_gelu.cpp"),
                os.path.join("csrc", "fused_gelu_kernel.cu"),
            ],
            include_dirs=[os.path.join(here, "csrc")],
            extra_compile_args={
                "cxx": ["-O3"],
                "nvcc": ["-O3", "--use_fast_math", "-lineinfo", "-U__CUDA_NO_HALF_OPERATORS__"],
            },
        )
    ],
    cmdclass={"build_ext": BuildExtension},
    install_requires=["torch>=2.1"],
    extras_require={
        "fast": ["flash-attn>=2.5", "xformers", "triton", "bitsandbytes", "nvidia-ml-py", "cupy-cuda12x"],
    },
)
