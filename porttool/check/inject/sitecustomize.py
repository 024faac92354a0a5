"""porttool check: activate the CUDA tripwire / the neuron mock in this process (stdlib only).

The runner puts this folder first on PYTHONPATH and sets ``PORTTOOL_CHECK_MODE``:

* unset or empty: do nothing (cheap: no torch import);
* ``tripwire``: after ``import torch`` anywhere in the program, install the CUDA tripwire;
* ``mock``: the same, plus the CPU-backed simulation of the ``neuron`` device;
* ``redirect`` / ``reference`` (``check --compare``'s runs of the original): no tripwire; the
  unported program runs on the CPU through the CUDA redirect, or as it is on a CUDA device.

Nothing is installed until the program imports torch itself (an import hook waits for it), so
processes that never use torch pay nothing.  Any ``sitecustomize`` later on ``sys.path`` is run
afterwards, as if this one did not exist.
"""

import os
import sys


def _chain_next_sitecustomize() -> None:
    import importlib.machinery
    import importlib.util

    here = os.path.dirname(os.path.abspath(__file__))
    later = []
    seen_self = False
    for entry in sys.path:
        resolved = os.path.abspath(entry or os.getcwd())
        if resolved == here:
            seen_self = True
            continue
        if seen_self:
            later.append(entry)
    spec = importlib.machinery.PathFinder.find_spec("sitecustomize", later)
    if spec is None or spec.loader is None or spec.origin == os.path.abspath(__file__):
        return
    module = importlib.util.module_from_spec(spec)
    sys.modules["_porttool_chained_sitecustomize"] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # the same leniency site.py applies  # noqa: BLE001
        sys.stderr.write(f"Error in chained sitecustomize {spec.origin}: {exc!r}\n")


def _activate() -> None:
    mode = os.environ.get("PORTTOOL_CHECK_MODE", "").strip().lower()
    if mode not in ("mock", "tripwire", "redirect", "reference"):
        return
    here = os.path.dirname(os.path.abspath(__file__))
    if here not in sys.path:
        sys.path.insert(0, here)
    import porttool_bootstrap
    import porttool_compare_hooks  # check --compare: seeds, redirect, records

    porttool_compare_hooks.arm_early()

    porttool_bootstrap.arm(mode)


try:
    _activate()
finally:
    _chain_next_sitecustomize()
