"""Load Great Expectations quietly: analytics off, progress bars off, one ephemeral context."""

from __future__ import annotations

import logging
import os
from types import ModuleType
from typing import Any


def load_gx() -> ModuleType:
    """Import ``great_expectations`` with usage analytics disabled (set before the import)."""
    os.environ["GX_ANALYTICS_ENABLED"] = "false"
    import great_expectations as gx

    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    return gx


def quiet_ephemeral_context() -> Any:
    """A fresh ephemeral GX data context with progress bars switched off."""
    gx = load_gx()
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    return context
