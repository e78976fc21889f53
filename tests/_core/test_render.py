"""The one renderer: aligned tables, CSV, JSON and Markdown from the same rows and columns."""

import csv
import io
import json

import numpy as np
import pytest

from bitsim._core.render import Column, render

ROWS = [
    {"name": "conv1", "macs": 1234567, "share": 0.25, "acc": None},
    {"name": "fc", "macs": 10, "share": 0.75, "acc": 17},
]
COLUMNS = [
    Column("name", "layer", left=True),
    Column("macs", "MACs", "{:,}"),
    Column("share", "%", "{:.1%}"),
    Column("acc"),
]


def test_table_aligns_and_formats():
    lines = render(ROWS, "table", COLUMNS, "title", ["a note"]).splitlines()
    assert lines[0] == "title" and lines[-1] == "a note"
    assert lines[1].split() == ["layer", "MACs", "%", "acc"]
    assert lines[2].startswith("conv1") and "1,234,567" in lines[2] and "25.0%" in lines[2]
    assert len(lines[1]) == len(lines[3])  # right-aligned to one width


def test_markdown_csv_json():
    md = render(ROWS, "markdown", COLUMNS, "net").splitlines()
    assert (
        md[0] == "**net**"
        and md[2] == "| layer | MACs | % | acc |"
        and md[3] == "|---|---|---|---|"
    )
    rows = list(csv.DictReader(io.StringIO(render(ROWS, "csv", COLUMNS))))
    assert rows[0] == {"name": "conv1", "macs": "1234567", "share": "25.0%", "acc": ""}
    data = json.loads(render([{"v": np.int64(3)}], "json"))
    assert data == [{"v": 3}]


def test_unknown_format():
    with pytest.raises(ValueError, match="format: expected one of table, csv, json, markdown"):
        render(ROWS, "xml")
