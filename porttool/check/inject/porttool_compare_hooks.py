"""What ``porttool check --compare`` adds to a run (stdlib only until torch is imported).

* ``arm_early()`` (from ``sitecustomize``, before the program runs): when records are asked for,
  seed Python's ``random`` and, at its first import, NumPy's global generator with 0;
* ``install(torch)`` (right after ``import torch``): seed torch's CPU generator with 0 (PyTorch
  seeds it from the OS otherwise, so an unseeded program draws different numbers in every
  process), then the CPU redirect of CUDA (``PORTTOOL_CHECK_MODE=redirect``), the high-precision
  twin (``PORTTOOL_HIGH_PRECISION=1``) and the numeric records (``PORTTOOL_RECORDS_DIR``).

So a program that never seeds draws the same numbers in every compared run; a program that seeds
overrides these defaults, as it would any; ``PYTHONHASHSEED`` is fixed by porttool.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import os
import sys
from typing import Any

SEED = 0


class _SeedNumpyOnImport(importlib.abc.MetaPathFinder):
    def find_spec(self, name: str, path: Any, target: Any = None) -> Any:
        if name != "numpy":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec("numpy")
        if spec is None or spec.loader is None:
            return spec
        loader = spec.loader
        original_exec = loader.exec_module  # type: ignore[union-attr]

        def exec_module(module: Any) -> None:
            original_exec(module)
            try:
                module.random.seed(SEED)
            except Exception:  # noqa: BLE001,S110
                pass

        loader.exec_module = exec_module  # type: ignore[union-attr, method-assign]
        return spec


def arm_early() -> None:
    if not os.environ.get("PORTTOOL_RECORDS_DIR"):
        return
    import random

    random.seed(SEED)
    if "numpy" not in sys.modules:
        sys.meta_path.insert(0, _SeedNumpyOnImport())


def install(torch: Any, mode: str) -> None:
    if os.environ.get("PORTTOOL_RECORDS_DIR"):
        torch.manual_seed(SEED)
    if mode == "redirect":
        import porttool_cuda_redirect

        porttool_cuda_redirect.install(torch)
    if os.environ.get("PORTTOOL_HIGH_PRECISION") == "1":
        import porttool_high_precision

        porttool_high_precision.install(torch)
    if os.environ.get("PORTTOOL_RECORDS_DIR"):
        import porttool_records

        porttool_records.install(torch)
