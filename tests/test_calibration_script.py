"""bench/calibration.py (the README's calibration table) runs and says what it claims."""

import json
import subprocess
import sys
from pathlib import Path

from bitsim.circuits.multipliers import ARCHS

SCRIPT = Path(__file__).resolve().parents[1] / "bench" / "calibration.py"


def test_calibration_script_rows():
    out = subprocess.run(
        [sys.executable, str(SCRIPT), "-n", "2000", "--format", "json"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    rows = json.loads(out)
    assert len(rows) == 3 * 3 * 2  # bits x acc_bits x signedness
    for r in rows:
        assert {"register", "register_adder", "gate_adder", *ARCHS} <= set(r)
        assert 0 < r["register_adder"] < r["register"] < min(r[a] for a in ARCHS)
