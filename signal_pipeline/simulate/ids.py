"""Random identifiers drawn from a seeded generator, built as whole arrays."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

_HEX_DIGITS = np.frombuffer(b"0123456789abcdef", np.uint8)
_UUID_DASHES = (8, 13, 18, 23)
_UUID_WIDTH = 36


def uuid4_matrix(rng: np.random.Generator, count: int) -> np.ndarray:
    """`count` random version-4 UUIDs as an ASCII byte matrix of shape (count, 36)."""
    nibbles = rng.integers(0, 16, size=(count, 32), dtype=np.uint8)
    nibbles[:, 12] = 4  # version
    nibbles[:, 16] = 8 + (nibbles[:, 16] & 3)  # RFC 4122 variant
    digits = _HEX_DIGITS[nibbles]
    text = np.empty((count, _UUID_WIDTH), np.uint8)
    text[:, list(_UUID_DASHES)] = ord("-")
    keep = [i for i in range(_UUID_WIDTH) if i not in _UUID_DASHES]
    text[:, keep] = digits
    return text


def uuid4_strings(rng: np.random.Generator, count: int) -> list[str]:
    """`count` random version-4 UUIDs as Python strings."""
    matrix = uuid4_matrix(rng, count)
    return [row.decode("ascii") for row in matrix.view(f"S{_UUID_WIDTH}").ravel()]


def fixed_width_arrow_strings(matrix: np.ndarray) -> pa.StringArray:
    """An Arrow string array whose i-th value is the ASCII bytes of row i of `matrix`."""
    rows, width = matrix.shape
    offsets = np.arange(0, (rows + 1) * width, width, dtype=np.int32)
    data = np.ascontiguousarray(matrix, dtype=np.uint8)
    return pa.StringArray.from_buffers(rows, pa.py_buffer(offsets), pa.py_buffer(data))
