"""Real models on real data (the ``models`` extra, part of the test extra): EfficientNet-Lite0
on scikit-image photographs and all-MiniLM-L6-v2 on sentences, imported, quantized, measured;
the EfficientNet exported to ONNX and quantized by onnxruntime imports with the same layers."""

import numpy as np
import pytest
import torch

from bitsim.models.layers import Linear, MatMul
from bitsim.nets import examples
from bitsim.nets.capture import run_quantized
from bitsim.nets.onnx import from_onnx
from bitsim.nets.pytorch import from_torch
from bitsim.nets.report import Precision, report

SIZE = 128  # reduced resolution: CI time


@pytest.fixture(scope="module")
def effnet():
    return examples.efficientnet_lite0()


@pytest.fixture(scope="module")
def minilm():
    return examples.minilm()


def test_efficientnet_lite0_imports_with_its_published_size(effnet):
    net = from_torch(effnet, (3, 224, 224))
    convs = [layer for layer in net.layers if layer.kind == "conv"]
    # EfficientNet-Lite0: 16 MBConv blocks (15 with expansion) + stem + head: 49 convolutions,
    # 4.65 M parameters, about 0.4 G MACs at 224 x 224 (Tan & Le 2019, Lite variant)
    assert len(convs) == 49
    params = sum(layer.weights for layer in net.layers if layer.kind != "elementwise")
    assert params == sum(
        p.numel() for n, p in effnet.named_parameters() if "weight" in n and p.dim() > 1
    )
    assert 0.38e9 < net.macs < 0.41e9
    assert net.layers[-1] == Linear("_fc", 1280, 1000, True)


def test_quantized_efficientnet_still_sees_a_cat(effnet):
    x = examples.photos(SIZE, ("chelsea",))
    (logits,) = run_quantized(effnet, x, a_bits=8, w_bits=8)
    assert int(logits.argmax()) in examples.IMAGENET_CATS


def test_efficientnet_measured_report(effnet):
    x = examples.photos(SIZE, ("chelsea",))
    r = report(effnet, Precision(), n=20_000, inputs=x, acc_tile=64, max_outputs=256)
    conv = [row for row in r.layers if row["type"] == "conv"]
    assert len(conv) == 49 and all(row["flips_per_mac_data"] > 0 for row in conv)
    for row in conv:
        assert row["acc_bits_data"] <= row["acc_bits_a2q"] <= row["acc_bits_worst_signed"]
    # ReLU6 activations are often 0: real streams have zeros the uniform model has not
    assert max(row["zero_share"] for row in conv) > 0.2


@pytest.mark.filterwarnings("ignore")
def test_onnx_export_quantized_by_onnxruntime_reports_the_same_layers(effnet, tmp_path):
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    x = examples.photos(SIZE, ("chelsea",))
    path, qpath = str(tmp_path / "effnet.onnx"), str(tmp_path / "effnet_q.onnx")
    torch.onnx.export(effnet, (x,), path, dynamo=False, input_names=["x"])

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.items = iter([{"x": x.numpy()}])

        def get_next(self):
            return next(self.items, None)

    quantize_static(
        path,
        qpath,
        Reader(),
        quant_format=QuantFormat.QDQ,
        activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8,
        per_channel=True,
    )
    onnx_net = from_onnx(qpath)
    torch_net = from_torch(effnet, (3, SIZE, SIZE))

    def compute(layers):
        return [(lay.kind, lay.macs, lay.k, lay.shape) for lay in layers if lay.macs]

    assert compute(onnx_net.layers) == compute(torch_net.layers)
    # widths: the graph's u8 activations and s8 weights, as --unsigned-activations says
    onnx_rows = report(qpath, n=20_000).layers
    torch_rows = report(torch_net, Precision(a_signed=False), n=20_000).layers
    keys = ("macs", "k", "a_bits", "w_bits", "acc_bits_worst_signed", "flips_per_mac_signed")
    assert [[r[k] for k in keys] for r in onnx_rows if r["macs"]] == [
        [r[k] for k in keys] for r in torch_rows if r["macs"]
    ]


def test_minilm_attention_layers(minilm):
    tokens = examples.sentences(examples.SENTENCES[:2])
    length = tokens["input_ids"].shape[1]
    layers = {layer.name: layer for layer in from_torch(minilm, inputs=tokens).layers}
    att = "encoder.layer.0.attention.self.sdpa"
    assert layers[f"{att}.qk"] == MatMul(f"{att}.qk", length, 32, length, batch=12)
    assert layers[f"{att}.av"] == MatMul(f"{att}.av", length, length, 32, batch=12)
    q = layers["encoder.layer.0.attention.self.query"]
    assert q == Linear(q.name, 384, 384, True, positions=length)
    ops = {layer.op for layer in layers.values() if layer.kind == "elementwise"}
    assert {"layernorm", "softmax", "gelu", "add"} <= ops
    assert sum(1 for name in layers if name.endswith(".sdpa.qk")) == 6


@pytest.mark.parametrize("w_bits", [8, 4])
def test_minilm_measured_w8a8_w4a8(minilm, w_bits):
    tokens = examples.sentences(examples.SENTENCES[:2])
    r = report(minilm, Precision(w_bits=w_bits), n=20_000, inputs=tokens, max_outputs=128)
    rows = [row for row in r.layers if row["type"] in ("linear", "matmul")]
    assert all(row["flips_per_mac_data"] is not None for row in rows)
    qk = next(row for row in rows if row["name"].endswith("sdpa.qk"))
    assert qk["w_bits"] == 8 and qk["acc_bits_a2q"] is None  # both operands are activations
    linear = [row for row in rows if row["type"] == "linear"]
    assert all(row["w_bits"] == w_bits for row in linear)
    assert all(row["acc_bits_data"] <= row["acc_bits_a2q"] for row in linear)
    assert np.isfinite(r.totals["power_data"])
