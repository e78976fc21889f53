"""Cycle counts, utilization and mapping efficiency equal SCALE-Sim's (scalesim 3.0.0 on PyPI)
for a first convolution, a 3x3 convolution, a linear layer and a matrix product, on two arrays,
each dataflow.

scalesim 3.0.0 fails with numpy >= 2.4, so it runs in a virtual environment of its own with
numpy < 2.4: the interpreter named by $BITSIM_SCALESIM_PYTHON, or one this test creates
(``pip install scalesim==3.0.0 'numpy<2.4'``, about a minute). bitsim's numpy is not touched.
"""

import csv
import os
import subprocess
import venv
from pathlib import Path

import pytest

from bitsim.dataflow.mapping import DATAFLOWS, Array, map_layer, scalesim_topology_row
from bitsim.models.layers import Conv2d, Linear, MatMul

LAYERS = [
    Conv2d("first", 3, 16, 3, (24, 24), stride=2, padding=1),
    Conv2d("conv3x3", 16, 24, 3, (10, 10), padding=1),
    Linear("linear", 100, 10),
    MatMul("matmul", 20, 24, 18),
]
ARRAYS = [Array(8, 8), Array(4, 6)]

CONFIG = """[general]
run_name = bitsim
[architecture_presets]
ArrayHeight: {rows}
ArrayWidth: {cols}
IfmapSramSzkB: 1024
FilterSramSzkB: 1024
OfmapSramSzkB: 1024
IfmapOffset: 0
FilterOffset: 10000000
OfmapOffset: 20000000
Bandwidth: 10
Dataflow: {dataflow}
ReadRequestBuffer: 32
WriteRequestBuffer: 32
[layout]
IfmapCustomLayout: False
IfmapSRAMBankBandwidth: 10
IfmapSRAMBankNum: 10
IfmapSRAMBankPort: 2
FilterCustomLayout: False
FilterSRAMBankBandwidth: 10
FilterSRAMBankNum: 10
FilterSRAMBankPort: 2
[sparsity]
SparsitySupport: false
SparseRep: ellpack_block
OptimizedMapping: false
BlockSize: 8
RandomNumberGeneratorSeed: 40
[run_presets]
InterfaceBandwidth: CALC
UseRamulatorTrace: False
"""

RUN = """import sys
from scalesim.scale_sim import scalesim
s = scalesim(save_disk_space=True, verbose=False, config=sys.argv[1], topology=sys.argv[2],
             layout=sys.argv[2], input_type_gemm=False)
s.run_scale(top_path=sys.argv[3])
"""


@pytest.fixture(scope="module")
def scalesim_python(tmp_path_factory):
    given = os.environ.get("BITSIM_SCALESIM_PYTHON")
    if given:
        return given
    env = tmp_path_factory.mktemp("scalesim-venv")
    venv.create(env, with_pip=True)
    python = str(env / "bin" / "python")
    subprocess.run(
        [python, "-m", "pip", "install", "-q", "scalesim==3.0.0", "numpy<2.4"], check=True
    )
    return python


def run_scalesim(python, tmp: Path, array: Array, dataflow: str):
    (tmp / "scale.cfg").write_text(
        CONFIG.format(rows=array.rows, cols=array.cols, dataflow=dataflow)
    )
    rows = [
        "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, "
        "Num Filter, Strides,"
    ]
    rows += [
        f"{layer.name}, " + ", ".join(map(str, scalesim_topology_row(layer))) + ","
        for layer in LAYERS
    ]
    (tmp / "topo.csv").write_text("\n".join(rows) + "\n")
    (tmp / "run.py").write_text(RUN)
    subprocess.run(
        [python, "run.py", "scale.cfg", "topo.csv", "out"],
        cwd=tmp,
        check=True,
        capture_output=True,
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
    )
    with open(tmp / "out" / "bitsim" / "COMPUTE_REPORT.csv") as f:
        return [{k.strip(): v.strip() for k, v in row.items() if k} for row in csv.DictReader(f)]


@pytest.mark.parametrize("array", ARRAYS, ids=str)
@pytest.mark.parametrize("dataflow", DATAFLOWS)
def test_equal_to_scalesim(scalesim_python, tmp_path, array, dataflow):
    report = run_scalesim(scalesim_python, tmp_path, array, dataflow)
    assert len(report) == len(LAYERS)
    for layer, row in zip(LAYERS, report):
        m = map_layer(layer, array, dataflow)
        assert m.cycles == int(row["Total Cycles"]), layer.name
        assert int(row["Stall Cycles"]) == 0
        assert 100 * m.utilization == pytest.approx(float(row["Overall Util %"]), rel=1e-9)
        assert 100 * m.mapping_efficiency == pytest.approx(
            float(row["Mapping Efficiency %"]), rel=1e-9
        )
