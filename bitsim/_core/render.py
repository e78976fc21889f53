"""One renderer for every table bitsim prints: aligned text, CSV, JSON and Markdown.

Written here rather than taken from a table library: it is a few lines, and the core package
keeps to numpy, numba and PyYAML.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from typing import Any, Callable, List, Mapping, Optional, Sequence

from bitsim._core.checks import check_choice

__all__ = ["FORMATS", "Column", "render"]

FORMATS = ("table", "csv", "json", "markdown")


@dataclass(frozen=True)
class Column:
    """A column: the row key (or ``get``), its heading, a format for non-None values, and
    whether text is aligned left in tables."""

    key: str
    heading: Optional[str] = None
    fmt: str = "{}"
    left: bool = False
    get: Optional[Callable[[Mapping], Any]] = None

    def value(self, row: Mapping) -> Any:
        return self.get(row) if self.get is not None else row.get(self.key)

    def text(self, row: Mapping) -> str:
        value = self.value(row)
        return "" if value is None else self.fmt.format(value)


def _jsonable(value):
    """numpy scalars and other objects json does not know, as numbers or text."""
    return value.item() if hasattr(value, "item") else str(value)


def render(
    rows: Sequence[Mapping],
    fmt: str = "table",
    columns: Optional[Sequence[Column]] = None,
    title: str = "",
    notes: Sequence[str] = (),
    document: Any = None,
) -> str:
    """Rows as text. ``json`` dumps ``document`` (default: the rows, every key); ``csv`` writes
    the columns' values (default: every key of the rows); ``table`` and ``markdown`` print the
    columns' formatted text under ``title``, followed by ``notes``."""
    check_choice(fmt, "format", FORMATS)
    if fmt == "json":
        return (
            json.dumps(list(rows) if document is None else document, indent=2, default=_jsonable)
            + "\n"
        )
    if columns is None:
        columns = [Column(k) for k in dict.fromkeys(k for r in rows for k in r)]
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow([c.key for c in columns])
        for row in rows:
            writer.writerow(
                [
                    ""
                    if (v := c.value(row)) is None
                    else (c.fmt.format(v) if isinstance(v, float) else v)
                    for c in columns
                ]
            )
        return out.getvalue()
    heads = [c.heading or c.key for c in columns]
    cells = [[c.text(r) for c in columns] for r in rows]
    if fmt == "markdown":
        lines: List[str] = [f"**{title}**", ""] if title else []
        lines += ["| " + " | ".join(heads) + " |", "|" + "---|" * len(heads)]
        lines += ["| " + " | ".join(c) + " |" for c in cells]
    else:
        widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(heads)]

        def line(texts):
            return "  ".join(
                t.ljust(w) if col.left else t.rjust(w) for t, w, col in zip(texts, widths, columns)
            ).rstrip()

        lines = ([title] if title else []) + [line(heads)] + [line(c) for c in cells]
    return "\n".join([*lines, *notes]) + "\n"
