"""Wait for ``import torch``, then install the tripwire (and the mock) -- stdlib only until then."""

from __future__ import annotations

import importlib.abc
import importlib.util
import sys
import traceback
from typing import Any

from porttool_events import RECORDER, install_writers

_mode = ""


def _install(torch: Any) -> None:
    RECORDER.versions["torch"] = str(getattr(torch, "__version__", "?"))
    try:
        if _mode == "mock":
            import porttool_sdk_guard

            why = porttool_sdk_guard.reason_to_stay_off(torch)
            if why is None:
                import porttool_neuron_mock

                porttool_neuron_mock.install()
                porttool_sdk_guard.block_sdk_import()
            else:
                note = porttool_sdk_guard.MOCK_OFF_NOTE.format(why=why)
                RECORDER.note(note)
                sys.stderr.write(f"porttool check: {note}\n")
        if _mode in ("mock", "tripwire"):
            import porttool_tripwire

            porttool_tripwire.install(torch)
        import porttool_compare_hooks  # check --compare: the CUDA redirect and the records

        porttool_compare_hooks.install(torch, _mode)
    except Exception:  # noqa: BLE001
        RECORDER.note("porttool check failed to install its hooks: " + traceback.format_exc())
        sys.stderr.write("porttool check: failed to install its hooks:\n" + traceback.format_exc())
    RECORDER.write()  # this process is counted (and its versions known) even if it is killed later


class _TorchImportHook(importlib.abc.MetaPathFinder):
    def find_spec(self, name: str, path: Any, target: Any = None) -> Any:
        if name != "torch":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec("torch")
        if spec is None or spec.loader is None:
            return spec
        loader = spec.loader
        original_exec = loader.exec_module  # type: ignore[union-attr]

        def exec_module(module: Any) -> None:
            original_exec(module)
            _install(module)

        loader.exec_module = exec_module  # type: ignore[union-attr, method-assign]
        return spec


def arm(mode: str) -> None:
    global _mode
    _mode = mode
    RECORDER.mode = mode
    install_writers()
    if "torch" in sys.modules:
        _install(sys.modules["torch"])
    else:
        sys.meta_path.insert(0, _TorchImportHook())
