"""Systolic-array simulation throughput: one 3x3 convolution (64 -> 64 channels, 28x28) on a
32x32 array, every dataflow, 8 sampled folds, C kernels, one thread.

    pytest bench/test_bench_dataflow.py --benchmark-enable
"""

import functools

import pytest

from bitsim.dataflow.operands import sample_tensors
from bitsim.dataflow.simulate import simulate_dataflow
from bitsim.models.layers import Conv2d

LAYER = Conv2d("conv", 64, 64, 3, (28, 28), padding=1)


@functools.lru_cache(maxsize=None)
def tensors():
    return sample_tensors(LAYER, "half-normal", "normal", 0)


@pytest.mark.parametrize("dataflow", ["ws", "os", "is"])
def test_dataflow_layer(benchmark, dataflow):
    x, w = tensors()
    benchmark.group = "dataflow 64x64x3x3 on 32x32, 8 folds"
    r = benchmark.pedantic(
        simulate_dataflow,
        args=(LAYER, x, w, "32x32", dataflow),
        kwargs={"max_folds": 8, "threads": 1},
        rounds=1,
        iterations=1,
    )
    benchmark.extra_info["macs"] = r.macs_simulated
