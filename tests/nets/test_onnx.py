"""ONNX import: layers as the PyTorch path, widths from quantization nodes (QDQ, QOperator,
QONNX Quant, weight-only Cast + Mul), dynamic axes, errors."""

import json

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper, numpy_helper
from onnxruntime.quantization import (
    CalibrationDataReader,
    QuantFormat,
    QuantType,
    quantize_dynamic,
    quantize_static,
)

from bitsim.cli import main
from bitsim.nets.onnx import from_onnx
from bitsim.nets.pytorch import from_torch
from bitsim.nets.report import report

from torch_models import Attention, Small


def _export(model, shape, path, **kw):
    torch.onnx.export(
        model.eval(), (torch.zeros(shape),), str(path), dynamo=False, input_names=["x"], **kw
    )
    return str(path)


def _compute(layers):
    return [(layer.kind, layer.macs, layer.k) for layer in layers if layer.macs]


class _Reader(CalibrationDataReader):
    def __init__(self, shape):
        rng = np.random.default_rng(0)
        self.items = iter([{"x": rng.standard_normal(shape).astype(np.float32)} for _ in range(2)])

    def get_next(self):
        return next(self.items, None)


@pytest.fixture(scope="module")
def small_onnx(tmp_path_factory):
    torch.manual_seed(0)
    model = Small()
    return model, _export(model, (1, 3, 16, 16), tmp_path_factory.mktemp("onnx") / "small.onnx")


@pytest.mark.filterwarnings("ignore")
def test_float_models_import_as_from_torch(tmp_path, small_onnx):
    model, path = small_onnx
    assert _compute(from_onnx(path).layers) == _compute(from_torch(model, (3, 16, 16)).layers)
    attention = Attention()
    path = _export(attention, (1, 10, 16), tmp_path / "att.onnx", opset_version=17)
    imported = from_onnx(path).layers
    assert _compute(imported) == _compute(from_torch(attention, (10, 16)).layers)
    kinds = {layer.op for layer in imported if layer.kind == "elementwise"}
    assert {"softmax", "layernorm", "gelu", "sum"} <= kinds
    assert from_onnx(path).declared == {}


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("fmt", [QuantFormat.QDQ, QuantFormat.QOperator])
def test_onnxruntime_quantized_widths(tmp_path, small_onnx, fmt):
    model, path = small_onnx
    out = str(tmp_path / "q.onnx")
    quantize_static(
        path,
        out,
        _Reader((1, 3, 16, 16)),
        quant_format=fmt,
        activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8,
    )
    net = from_onnx(out)
    assert _compute(net.layers) == _compute(from_torch(model, (3, 16, 16)).layers)
    convs = [layer.name for layer in net.layers if layer.kind == "conv"]
    for name in convs:
        assert net.declared[name] == {"a_bits": 8, "a_signed": False, "w_bits": 8, "w_signed": True}
    rows = {r["name"]: r for r in report(out, n=20_000).layers}
    assert rows[convs[0]]["a_bits"] == 8
    # unsigned activations from the graph: the "signed" columns use u8 x s8, 27 x 255 x 128 >
    # 2^19 (s8 x s8 would fit 20 bits)
    assert rows[convs[0]]["acc_bits_worst_signed"] == 21


@pytest.mark.filterwarnings("ignore")
def test_dynamic_quantization_and_dynamic_axes(tmp_path):
    model = Small()
    path = _export(model, (1, 3, 16, 16), tmp_path / "dyn.onnx", dynamic_axes={"x": {0: "batch"}})
    with pytest.raises(ValueError, match=r"input 'x' has dynamic axes \(batchx3x16x16\).*x=1x128"):
        from_onnx(path)
    out = str(tmp_path / "dq.onnx")
    quantize_dynamic(path, out, weight_type=QuantType.QInt8)
    net = from_onnx(out, {"x": (1, 3, 16, 16)})
    assert _compute(net.layers) == _compute(from_torch(model, (3, 16, 16)).layers)
    assert all(spec["w_bits"] == 8 for spec in net.declared.values())
    with pytest.raises(ValueError, match="input_shape: the model has no input 'y'"):
        from_onnx(out, {"y": (1, 3)})


QONNX = "qonnx.custom_op.general"


def _qonnx_model():
    """x -> Quant(4 bits, unsigned) -> MatMul with Quant(3 bits, signed)(W); then Gemm with a
    weight-only int8 initializer dequantized by Cast + Mul."""
    rng = np.random.default_rng(0)
    inits = [
        numpy_helper.from_array(rng.standard_normal((6, 5)).astype(np.float32), "W"),
        numpy_helper.from_array(np.array(0.1, np.float32), "s"),
        numpy_helper.from_array(np.array(0.0, np.float32), "z"),
        numpy_helper.from_array(np.array(4.0, np.float32), "b4"),
        numpy_helper.from_array(np.array(3.0, np.float32), "b3"),
        numpy_helper.from_array(rng.integers(-128, 127, (5, 2)).astype(np.int8), "Wq"),
        numpy_helper.from_array(np.array(0.02, np.float32), "ws"),
    ]
    nodes = [
        helper.make_node(
            "Quant", ["x", "s", "z", "b4"], ["xq"], domain="qonnx.custom_op.general", signed=0
        ),
        helper.make_node(
            "Quant",
            ["W", "s", "z", "b3"],
            ["Wq3"],
            domain="qonnx.custom_op.general",
            signed=1,
            narrow=1,
        ),
        helper.make_node("MatMul", ["xq", "Wq3"], ["h"], name="mm"),
        helper.make_node("Cast", ["Wq"], ["Wf"], to=TensorProto.FLOAT),
        helper.make_node("Mul", ["Wf", "ws"], ["W2"]),
        helper.make_node("Gemm", ["h", "W2"], ["y"], name="gemm"),
    ]
    graph = helper.make_graph(
        nodes,
        "qonnx",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3, 6])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [3, 2])],
        inits,
        value_info=[
            helper.make_tensor_value_info("xq", TensorProto.FLOAT, [3, 6]),
            helper.make_tensor_value_info("Wq3", TensorProto.FLOAT, [6, 5]),
        ],
    )
    return helper.make_model(
        graph,
        opset_imports=[
            helper.make_opsetid("", 17),
            helper.make_opsetid("qonnx.custom_op.general", 1),
        ],
    )


def test_qonnx_quant_and_weight_only_widths():
    net = from_onnx(_qonnx_model())
    assert [(layer.name, layer.kind, layer.macs) for layer in net.layers] == [
        ("mm", "linear", 3 * 6 * 5),
        ("gemm", "linear", 3 * 5 * 2),
    ]
    assert net.declared == {
        "mm": {"a_bits": 4, "a_signed": False, "w_bits": 3, "w_signed": True},
        "gemm": {"w_bits": 8, "w_signed": True},
    }
    rows = report(net, n=10_000).layers
    assert (rows[0]["a_bits"], rows[0]["w_bits"], rows[1]["a_bits"], rows[1]["w_bits"]) == (
        4,
        3,
        8,
        8,
    )


def test_errors_name_the_problem(tmp_path, capsys):
    graph = helper.make_graph(
        [helper.make_node("Sin", ["x"], ["y"], name="sine")],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])],
    )
    path = tmp_path / "sin.onnx"
    onnx.save(helper.make_model(graph), str(path))
    with pytest.raises(ValueError, match="model: unsupported operation 'Sin' \\(node 'sine'\\)"):
        from_onnx(str(path))
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model")
    with pytest.raises(SystemExit) as err:
        main(["report", str(bad)])
    assert err.value.code == 2 and "is not an ONNX file" in capsys.readouterr().err


@pytest.mark.filterwarnings("ignore")
def test_cli_reports_onnx_files(tmp_path, small_onnx, capsys):
    _, path = small_onnx
    main(["report", path, "--no-sim", "--format", "json"])
    doc = json.loads(capsys.readouterr().out)
    assert [r["macs"] for r in doc["layers"] if r["macs"]] == [55296, 4608, 32]
    main(["report", path, "--input-shape", "1x3x16x16", "--no-sim"])
    assert "/fc/Gemm" in capsys.readouterr().out
    with pytest.raises(SystemExit) as err:
        main(["report", path, "--data", "x.npy"])
    assert err.value.code == 2
    assert "--data: no such file 'x.npy'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as err:
        main(["report", "resnet18", "--data", "x.npy"])
    assert "--data: real inputs are measured on PyTorch models and ONNX" in capsys.readouterr().err


@pytest.mark.filterwarnings("ignore::torch.jit.TracerWarning")
def test_onnx_measured_on_real_data_equals_the_torch_path(tmp_path, small_onnx, capsys):
    # the exporter folds BatchNorm into the convolution: per-channel weight quantization
    # gives the same integers, so every measured number agrees
    model, path = small_onnx
    torch.manual_seed(2)
    x = torch.randn(2, 3, 16, 16)
    np.save(tmp_path / "x.npy", x.numpy())
    a = report(model, n=20_000, inputs=x, max_outputs=200, acc_tile=8)
    b = report(path, n=20_000, inputs=x.numpy(), max_outputs=200, acc_tile=8)
    keys = [k for k in a.layers[0] if k.endswith("_data") or k in ("zero_share", "acc_bits_a2q")]
    measured_a = [[r[k] for k in keys] for r in a.layers if r.get("flips_per_mac_data")]
    measured_b = [[r[k] for k in keys] for r in b.layers if r.get("flips_per_mac_data")]
    assert len(measured_a) == 3 and measured_a == measured_b
    main(["report", path, "--data", str(tmp_path / "x.npy"), "-n", "20000", "--format", "csv"])
    assert "flips_per_mac_data" in capsys.readouterr().out.splitlines()[0]


@pytest.mark.filterwarnings("ignore")
def test_transposed_convolutions(tmp_path):
    from bitsim.models.layers import ConvTranspose2d

    model = torch.nn.Sequential(
        torch.nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1, groups=2)
    )
    (layer,) = from_torch(model, (4, 5, 5)).layers
    assert layer == ConvTranspose2d("0", 4, 6, 3, 5, 2, 1, 1, 1, 2, True)
    assert layer.output_hw == (10, 10)
    # MACs: each of the 25 input pixels makes 6 x (4 / 2) x 3 x 3 products; count them in the
    # output: every output sums (in / groups) x (taps reaching it) terms, at most 2 x 2 x 2 = K
    assert layer.macs == 25 * 6 * 2 * 9 == 2700 and layer.k == 2 * 2 * 2
    ones = torch.nn.functional.conv_transpose2d(
        torch.ones(1, 4, 5, 5), torch.ones(4, 3, 3, 3), None, 2, 1, 1, 2
    )
    assert ones.max() == layer.k  # an all-ones output sums exactly its terms
    path = _export(model, (1, 4, 5, 5), tmp_path / "ct.onnx")
    (imported,) = from_onnx(path).layers
    assert (imported.macs, imported.k, imported.output_hw) == (2700, 8, (10, 10))
