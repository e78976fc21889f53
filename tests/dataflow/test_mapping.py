"""Mappings: SCALE-Sim's spatio-temporal dimensions, fold order, cycles and utilization."""

import pytest

from bitsim._core.checks import InputError
from bitsim.dataflow.mapping import Array, map_layer, scalesim_topology_row
from bitsim.models.layers import Conv2d, Linear

CONV = Conv2d("conv", 3, 12, 3, (10, 10), stride=2, padding=1)  # 5x5 outputs, K = 27


def test_dims_and_folds():
    m = map_layer(CONV, Array(8, 8), "ws")
    assert (m.n, m.k, m.m) == (25, 27, 12)
    assert m.dims == (27, 12, 25) and (m.row_folds, m.col_folds) == (4, 2)
    assert map_layer(CONV, Array(8, 8), "os").dims == (25, 12, 27)
    assert map_layer(CONV, Array(8, 8), "is").dims == (27, 25, 12)
    # column folds outside, row folds inside; the last row fold uses 27 - 24 = 3 rows
    assert [(f.row0, f.rows_used, f.col0, f.cols_used) for f in m.all_folds()][3:5] == [
        (24, 3, 0, 8),
        (0, 8, 8, 4),
    ]


def test_cycles_by_hand():
    # ws: 8 folds x (2*8 + 8 + 25 - 2) - 1; os: 8 x (8 + 8 + 27 - 2) - 1
    assert map_layer(CONV, Array(8, 8), "ws").cycles == 8 * 47 - 1
    assert map_layer(CONV, Array(8, 8), "os").cycles == 8 * 41 - 1
    m = map_layer(CONV, Array(8, 8), "is")
    assert m.cycles == 16 * 34 - 1
    assert m.utilization == pytest.approx(25 * 27 * 12 / (m.cycles * 64))
    assert m.mapping_efficiency == pytest.approx(27 * 25 / (16 * 64))


def test_groups_add_up():
    dw = Conv2d("dw", 8, 8, 3, (6, 6), padding=1, groups=8)
    m = map_layer(dw, Array(4, 4), "os")
    one = map_layer(Conv2d("one", 1, 1, 3, (6, 6), padding=1), Array(4, 4), "os")
    assert m.cycles == 8 * one.cycles and m.macs == dw.macs


def test_topology_row():
    assert scalesim_topology_row(CONV) == (11, 11, 3, 3, 3, 12, 2)
    assert scalesim_topology_row(Linear("fc", 40, 10)) == (1, 1, 1, 1, 40, 10, 1)


def test_bad_input():
    with pytest.raises(InputError, match=r"array: expected RxC \(e.g. 32x32\), found '32'"):
        Array.parse("32")
    with pytest.raises(InputError, match="dataflow: expected one of ws, os, is, found 'rs'"):
        map_layer(CONV, Array(8, 8), "rs")
    with pytest.raises(InputError, match="dilated"):
        map_layer(Conv2d("d", 1, 1, 3, (9, 9), dilation=2), Array(2, 2), "ws")
