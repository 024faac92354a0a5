"""Small pure rewrite functions for what a rule template cannot express.

Each handler is a module `porttool/rewrite/handlers/<name>.py` with `rewrite(node, ctx)`; the API is in
docs/rule-format.md. Handlers are named by rule files and loaded on first use.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import libcst as cst

Handler = Callable[[cst.CSTNode, Any], "cst.CSTNode | cst.RemovalSentinel | None"]


@lru_cache(maxsize=None)
def load_handler(name: str) -> Handler:
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
        raise ValueError(f"invalid handler name {name!r}")
    module = importlib.import_module(f"porttool.rewrite.handlers.{name}")
    return module.rewrite  # type: ignore[no-any-return]
