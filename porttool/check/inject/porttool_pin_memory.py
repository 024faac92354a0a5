"""Pinned host memory under the mock: which line asked for it (stdlib + torch only).

The mock has no pinned-memory allocator for ``neuron`` (and TorchNeuron's is unconfirmed), so
pinning fails.  The failure is recorded as a site for the runner to explain, at the line
``porttool rewrite`` would change (check/site_notes.py says what it does there):

* ``pin-memory-call``: a ``.pin_memory()`` call in user code (PT402's site);
* ``pin-memory-dataloader``: the ``DataLoader(...)`` whose batches were being pinned (PT401's
  site), not the loop that iterated it -- also when a pin-memory thread did the pinning;
* ``pin-memory-dataloader-library``: such a DataLoader made by library code, at the user line
  that called into the library;
* ``pin-memory``: anything else, at the innermost user line.
"""

from __future__ import annotations

import functools
import sys
import threading
from typing import Any

import torch
from porttool_events import RECORDER, caller_is_user, is_library_file, site_of, user_frame

_SITE = "_porttool_pin_site"  # (kind, file, line) on a pinning DataLoader and its iterators
_THREAD_SITES: dict[int, tuple[str, str, int]] = {}  # pin-memory thread ident -> its loader's site


def _patch_dataloader() -> None:
    from torch.utils.data import dataloader

    loader_init = dataloader.DataLoader.__init__

    @functools.wraps(loader_init)
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        loader_init(self, *args, **kwargs)
        if getattr(self, "pin_memory", False):
            kind = "pin-memory-dataloader" if caller_is_user(2) else "pin-memory-dataloader-library"
            self.__dict__[_SITE] = (kind, *site_of(user_frame(2)))

    dataloader.DataLoader.__init__ = __init__  # type: ignore[method-assign]

    base_init = dataloader._BaseDataLoaderIter.__init__

    @functools.wraps(base_init)
    def iter_init(self: Any, loader: Any, *args: Any, **kwargs: Any) -> None:
        self.__dict__[_SITE] = loader.__dict__.get(_SITE)
        base_init(self, loader, *args, **kwargs)

    dataloader._BaseDataLoaderIter.__init__ = iter_init  # type: ignore[method-assign]

    workers_init = dataloader._MultiProcessingDataLoaderIter.__init__

    @functools.wraps(workers_init)
    def workers_iter_init(self: Any, *args: Any, **kwargs: Any) -> None:
        workers_init(self, *args, **kwargs)
        thread = getattr(self, "_pin_memory_thread", None)
        site = self.__dict__.get(_SITE)
        if thread is not None and thread.ident is not None and site is not None:
            _THREAD_SITES[thread.ident] = site

    dataloader._MultiProcessingDataLoaderIter.__init__ = workers_iter_init  # type: ignore[method-assign]


def _failed_site() -> tuple[str, str, int]:
    caller = sys._getframe(2)  # _failed_site <- the pin_memory wrapper <- its caller
    if not is_library_file(caller.f_code.co_filename):
        return ("pin-memory-call", *site_of(caller))
    from torch.utils.data.dataloader import _BaseDataLoaderIter

    frame: Any = caller
    while frame is not None:
        owner = frame.f_locals.get("self")
        if isinstance(owner, _BaseDataLoaderIter) and owner.__dict__.get(_SITE):
            return owner.__dict__[_SITE]  # type: ignore[no-any-return]
        frame = frame.f_back
    site = _THREAD_SITES.get(threading.get_ident())
    if site is not None:
        return site
    return ("pin-memory", *site_of(user_frame(3)))


def install() -> None:
    original = torch.Tensor.pin_memory

    @functools.wraps(original)
    def pin_memory(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return original(self, *args, **kwargs)
        except (NotImplementedError, RuntimeError):
            kind, file, line = _failed_site()
            RECORDER.site(kind, (file, line))
            raise

    torch.Tensor.pin_memory = pin_memory  # type: ignore[method-assign]
    try:
        _patch_dataloader()
    except Exception:  # noqa: BLE001,S110 - a torch without these internals: sites are then "pin-memory"
        pass
