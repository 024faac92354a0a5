"""Never block the real Neuron SDK (stdlib only until torch is imported).

torch-neuronx registers the ``neuron`` device as PyTorch's PrivateUse1 backend when it is
imported, and skips that registration when another PrivateUse1 backend was registered first (its
docs, 2026-11): ``torch.neuron`` is then never created.  The CPU mock is such a backend, so it
must never load in a process that can use the real SDK:

* ``torch_neuronx`` importable (found on ``sys.path``, not imported) or already imported, or
  PrivateUse1 already renamed by someone else: the mock stays off, the process runs as it is
  (the CUDA tripwire still watches) and a note in the report says why;
* the mock loaded and the program later makes ``torch_neuronx`` importable and imports it (a
  ``sys.path`` edit): the import fails with an explanation instead of half-registering the SDK.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import sys
from typing import Any

SDK = "torch_neuronx"

MOCK_OFF_NOTE = (
    "the CPU mock of the neuron device was NOT loaded: {why}. torch-neuronx skips its own "
    "registration when another PrivateUse1 backend was registered first, so the mock never loads "
    "where the real SDK can be used; this run used no neuron simulation (run with --backend "
    "neuron on a Neuron host, or the mock from a Python without torch-neuronx)"
)
BLOCKED_MESSAGE = (
    "porttool check: the CPU mock of the neuron device is active in this process, so the real "
    "torch_neuronx cannot register the neuron device here (it skips registration when another "
    "PrivateUse1 backend exists); run it without the mock (porttool check --backend neuron)"
)


def reason_to_stay_off(torch: Any) -> str | None:
    """Why the mock must not load in this process, or None when it may."""
    if SDK in sys.modules:
        return f"{SDK} is already imported"
    try:
        spec = importlib.util.find_spec(SDK)
    except (ImportError, ValueError):
        spec = None
    if spec is not None:
        return f"{SDK} is importable in this Python ({spec.origin or spec.name})"
    name = torch._C._get_privateuse1_backend_name()
    if name not in ("privateuseone", "neuron"):
        return f"another PrivateUse1 backend ({name!r}) is registered"
    if name == "neuron" and hasattr(torch, "neuron"):
        return "a neuron backend is already registered"
    return None


class _BlockSdkImport(importlib.abc.MetaPathFinder):
    def find_spec(self, name: str, path: Any, target: Any = None) -> Any:
        if name == SDK or name.startswith(SDK + "."):
            raise ImportError(BLOCKED_MESSAGE, name=name)
        return None


def block_sdk_import() -> None:
    if not any(isinstance(f, _BlockSdkImport) for f in sys.meta_path):
        sys.meta_path.insert(0, _BlockSdkImport())
