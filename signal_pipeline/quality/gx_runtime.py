"""Load Great Expectations quietly: analytics off, progress bars off, one ephemeral context."""

from __future__ import annotations

import logging
import os
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Any


@contextmanager
def _main_module_looks_initialised() -> Iterator[None]:
    """Keep PySpark from mistaking this process for its own doctest runner.

    GX probes for an installed PySpark; ``pyspark.sql.connect`` then calls ``sys.exit(0)`` when
    ``__main__`` has neither ``__spec__`` nor ``__file__`` (``python -c``, pytest-xdist workers,
    embedded interpreters). Give ``__main__`` a placeholder ``__file__`` for the import only.
    """
    main = sys.modules.get("__main__")
    patched = (
        main is not None
        and getattr(main, "__spec__", None) is None
        and not hasattr(main, "__file__")
    )
    if patched:
        main.__file__ = "<signal-pipeline>"  # type: ignore[union-attr]
    try:
        yield
    finally:
        if patched:
            del main.__file__  # type: ignore[union-attr]


def load_gx() -> ModuleType:
    """Import ``great_expectations`` with usage analytics disabled (set before the import).

    GX probes for an installed PySpark (the Spark engine's dependency), which warns about pandas
    3 on import; that warning concerns GX's Spark support, which we don't use, so it is muted.
    """
    os.environ["GX_ANALYTICS_ENABLED"] = "false"
    with warnings.catch_warnings(), _main_module_looks_initialised():
        warnings.filterwarnings("ignore", category=FutureWarning, module=r"pyspark(\.|$)")
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
