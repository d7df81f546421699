"""Fingerprints of every table in a DuckDB file, to prove a fault left the previous version."""

from __future__ import annotations

from pathlib import Path

from signal_pipeline import db


def table_fingerprints(database: Path) -> dict[str, tuple[int, int]]:
    """``{table: (rows, order-independent content hash)}`` for every table and view in main.

    Opens the file read-only (a half-written or corrupt file fails here).
    """
    with db.open_db(database, read_only=True) as con:
        names = [
            name
            for (name,) in con.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' "
                "ORDER BY table_name"
            ).fetchall()
        ]
        prints: dict[str, tuple[int, int]] = {}
        for name in names:
            quoted = '"' + name.replace('"', '""') + '"'  # names come from the catalog
            row = con.execute(
                f"SELECT count(*), coalesce(sum(hash(t)::HUGEINT), 0) FROM {quoted} t"
            ).fetchone()
            prints[name] = (int(row[0]), int(row[1])) if row else (0, 0)
    return prints
