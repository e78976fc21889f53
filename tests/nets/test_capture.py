"""Real operand streams: integer operands, processing-element order, measured report columns."""

import importlib
import warnings

import numpy as np
import pytest
import torch
from torch.nn import functional as F

import bitsim
from bitsim.nets.capture import capture, capture_onnx, pe_streams, quantize
from bitsim.nets.report import Precision, report
from bitsim.sim.formats import IntFormat

from torch_models import Attention, Small


def _integer_outputs(c):
    """The layer's exact integer outputs, row-major, computed by torch/numpy."""
    if c.layer.kind == "conv":
        lay = c.layer
        x, w = torch.tensor(c.x, dtype=torch.float64), torch.tensor(c.w, dtype=torch.float64)
        out = F.conv2d(x, w, None, lay.stride, lay.padding, lay.dilation, lay.groups)
        return out.numpy().ravel()
    if c.layer.kind == "convtranspose":
        lay = c.layer
        x, w = torch.tensor(c.x, dtype=torch.float64), torch.tensor(c.w, dtype=torch.float64)
        out = F.conv_transpose2d(
            x, w, None, lay.stride, lay.padding, lay.output_padding, lay.groups, lay.dilation
        )
        return out.numpy().ravel()
    if c.layer.kind == "linear":
        return (c.x.astype(np.int64) @ c.w.T.astype(np.int64)).ravel()
    return np.einsum("bik,bjk->bij", c.x.astype(np.int64), c.w.astype(np.int64)).ravel()


class Upsample(torch.nn.Module):
    """Transposed convolutions (stride, padding, output padding, dilation, groups) and an
    einsum with a weight."""

    def __init__(self):
        super().__init__()
        self.up = torch.nn.ConvTranspose2d(3, 4, 3, stride=2, padding=1, output_padding=1)
        self.up2 = torch.nn.ConvTranspose2d(4, 6, 4, stride=3, padding=2, groups=2, dilation=2)
        self.mix = torch.nn.Parameter(torch.randn(6, 5))

    def forward(self, x):
        y = self.up2(torch.relu(self.up(x)))
        return torch.einsum("nchw,cd->nhwd", y, self.mix)


@pytest.mark.parametrize(
    "model, inputs",
    [
        (Small, lambda: torch.randn(2, 3, 16, 16)),
        (Attention, lambda: torch.randn(2, 10, 16)),
        (Upsample, lambda: torch.randn(2, 3, 5, 6)),
    ],
)
def test_streams_are_the_layers_dot_products(model, inputs):
    torch.manual_seed(0)
    seen = []
    for c in capture(model(), inputs(), a_bits=6, w_bits=5):
        seen.append(c.layer.name)
        w_hi = 31 if c.layer.kind == "matmul" else 15  # the right operand of x @ y: 6 bits
        assert c.x.max() <= 31 and c.x.min() >= -31 and abs(c.w).max() <= w_hi
        xs, ws, taken = pe_streams(c)
        assert taken == c.outputs and len(xs) == len(ws) == taken * c.k
        dots = (xs.astype(np.int64) * ws).reshape(taken, c.k).sum(axis=1)
        assert np.array_equal(dots, _integer_outputs(c)), c.layer.name
        xs2, ws2, sampled = pe_streams(c, max_outputs=7, seed=3)
        assert sampled == min(7, c.outputs)
        idx = np.sort(np.random.default_rng(3).choice(c.outputs, size=sampled, replace=False))
        dots2 = (xs2.astype(np.int64) * ws2).reshape(sampled, c.k).sum(axis=1)
        assert np.array_equal(dots2, _integer_outputs(c)[idx])
    if model is Attention:  # attention's QK^T and AV, matmul, bmm and einsum
        assert {"mha.sdpa.qk", "mha.sdpa.av", "sdpa.av", "bmm", "einsum", "matmul"} <= set(seen)
    if model is Upsample:
        assert seen == ["up", "up2", "einsum"]


def test_quantize_is_symmetric_per_tensor_and_per_channel():
    v = torch.tensor([[1.0, -2.0, 0.5], [0.1, 0.2, -0.4]])
    q, s = quantize(v, IntFormat(8, True))
    assert s == pytest.approx(2.0 / 127) and q.min() == -127
    q, s = quantize(v, IntFormat(4, True), axis=0)
    assert np.allclose(s, [2.0 / 7, 0.4 / 7]) and q[1].tolist() == [2, 4, -7]
    q, s = quantize(v, IntFormat(4, False))
    assert q.min() == 0 and q.max() == 15


def test_measured_columns():
    torch.manual_seed(1)
    x = torch.randn(2, 3, 16, 16)
    p, model = Precision(acc_bits=16), Small()
    r = report(model, p, n=20_000, inputs=x, acc_tile=4, max_outputs=300)
    conv = {row["name"]: row for row in r.layers}["conv"]
    assert conv["outputs_measured"] == 300
    assert conv["power_data"] == pytest.approx(conv["macs"] * conv["flips_per_mac_data"])
    assert conv["acc_bits_data"] <= conv["acc_bits_a2q"] <= conv["acc_bits_worst_signed"]
    assert conv["acc_bits_tiled"] < conv["acc_bits_worst_signed"]
    assert 0 <= conv["zero_share"] < 1
    assert set(conv["overflow_rates_data"]) == {
        str(w) for w in range(conv["acc_bits_data"] - 4, conv["acc_bits_data"] + 1)
    }
    assert conv["overflow_rates_data"][str(conv["acc_bits_data"])] == 0.0
    assert conv["overflow_rates_data"][str(conv["acc_bits_data"] - 1)] > 0.0
    assert r.totals["power_data"] == pytest.approx(
        sum(row.get("power_data") or 0 for row in r.layers)
    )
    assert "flips/MAC data" in r.render("table") and "3 real" not in r.render("table")
    again = report(model, p, n=20_000, inputs=x, acc_tile=4, max_outputs=300, threads=2)
    assert again.layers == r.layers  # whatever the thread count


def test_real_inputs_need_a_torch_or_onnx_model():
    from bitsim.nets.zoo import network

    with pytest.raises(ValueError, match="inputs: real inputs are measured on PyTorch"):
        report(network("resnet20"), inputs=torch.zeros(1))


def test_cli_torch_factory_with_data(tmp_path, capsys):
    import json

    from bitsim.cli import main

    torch.manual_seed(0)
    path = tmp_path / "x.npy"
    np.save(path, torch.randn(2, 3, 16, 16).numpy())
    main(["report", "--torch", "torch_models:Small", "--data", str(path), "-n", "20000",
          "--acc-tile", "8", "--max-outputs", "100", "--format", "json"])  # fmt: skip
    doc = json.loads(capsys.readouterr().out)
    assert doc["precision"]["examples"] == 2 and doc["precision"]["acc_tile"] == 8
    conv = doc["layers"][0]
    assert conv["outputs_measured"] == 100 and conv["acc_bits_tiled"] is not None
    main(["report", "--torch", "torch_models:Small", "--input-shape", "1x3x16x16", "--no-sim"])
    assert "conv" in capsys.readouterr().out
    for argv, message in (
        (["report"], "network: expected a built-in network, an .onnx file or --torch"),
        (["report", "--torch", "torch_models"], "--torch: expected module:factory"),
        (["report", "--torch", "torch_models:Nope"], "has no 'Nope'"),
        (["report", "--torch", "torch_models:Small", "--data", "x.csv"], "--data: no such file"),
        (["report", "--torch", "torch_models:Small", "--input-shape", "1xa"], "--input-shape"),
    ):
        with pytest.raises(SystemExit) as err:
            main(argv)
        assert err.value.code == 2 and message in capsys.readouterr().err, argv


def test_attention_probabilities_are_the_av_operand():
    class Causal(torch.nn.Module):
        def forward(self, q, k, v):
            return F.scaled_dot_product_attention(q, k, v, is_causal=True, scale=0.5)

    torch.manual_seed(3)
    q, k, v = torch.randn(1, 2, 5, 4), torch.randn(1, 2, 5, 4), torch.randn(1, 2, 5, 3)
    captured = {c.layer.name: c for c in capture(Causal(), (q, k, v), a_bits=12)}
    av = captured["sdpa.av"]
    probs = torch.softmax((q @ k.transpose(-1, -2) * 0.5).masked_fill(
        ~torch.ones(5, 5, dtype=torch.bool).tril(), float("-inf")), -1)  # fmt: skip
    assert np.allclose(av.x * av.x_scale, probs.reshape(2, 5, 5).numpy(), atol=av.x_scale)
    assert np.allclose(av.w * av.w_scale, v[0].transpose(-1, -2).numpy(), atol=av.w_scale)
    assert av.layer.k == 5 and captured["sdpa.qk"].layer.k == 4


def test_boolean_attention_mask_zeroes_padded_keys():
    # a key-padding mask as transformers' BERT passes it (True: may attend); the AV operand
    # must be the probabilities scaled_dot_product_attention uses, 0 on the padded keys
    class Padded(torch.nn.Module):
        def forward(self, q, k, v, mask):
            return F.scaled_dot_product_attention(q, k, v, attn_mask=mask)

    torch.manual_seed(4)
    q, k, v = torch.randn(1, 2, 5, 4), torch.randn(1, 2, 5, 4), torch.randn(1, 2, 5, 3)
    mask = torch.tensor([True, True, True, False, False]).expand(1, 1, 5, 5)
    (av,) = [c for c in capture(Padded(), (q, k, v, mask), a_bits=16) if c.layer.name == "sdpa.av"]
    probs = av.x * av.x_scale
    assert np.all(av.x[..., 3:] == 0) and np.all(av.x[..., :3] > 0)
    out = Padded()(q, k, v, mask)[0].numpy()
    assert np.allclose(probs @ v[0].numpy(), out, atol=1e-3)


def _gated_reference(xs, ws, k, x_bits, w_bits, acc_bits):
    """A gated MAC written out: a MAC with a zero operand holds every register and the adder's
    inputs; the first live term of a dot product adds its product to 0; a dot product with no
    live term clears the accumulator (the adder's first input 0: its carries fall to 0)."""
    masks = {"x": (1 << x_bits) - 1, "w": (1 << w_bits) - 1}
    masks["product"], masks["acc"] = (1 << (x_bits + w_bits)) - 1, (1 << acc_bits) - 1
    masks["addend"], masks["carry"] = masks["acc"], masks["acc"]
    regs = dict.fromkeys(masks, 0)
    flips = dict.fromkeys(masks, 0)

    def load(site, value):
        flips[site] += bin((regs[site] ^ value) & masks[site]).count("1")
        regs[site] = value & masks[site]

    def carries(a, b):  # carry out of each bit of a ripple-carry adder, written bit by bit
        out, c = 0, 0
        for i in range(acc_bits):
            s = (a >> i & 1) + (b >> i & 1) + c
            c = s >> 1
            out |= c << i
        return out

    for d in range(len(xs) // k):
        first = True
        for x, w in zip(xs[d * k : (d + 1) * k], ws[d * k : (d + 1) * k]):
            x, w = int(x), int(w)
            if x == 0 or w == 0:
                continue
            kept = 0 if first else regs["acc"]
            load("x", x)
            load("w", w)
            load("product", x * w)
            load("addend", x * w)
            load("carry", carries(kept, regs["addend"]))
            load("acc", kept + x * w)
            first = False
        if first:
            load("acc", 0)
            load("carry", 0)
    return {site: v / len(xs) for site, v in flips.items()}


@pytest.mark.parametrize("k", [1, 3, 8])
def test_zero_gating_equals_a_gated_mac(k):
    from bitsim.nets.capture import zero_gated_flips

    rng = np.random.default_rng(k)
    xs = rng.integers(-8, 8, 40 * k) * (rng.random(40 * k) < 0.6)
    ws = rng.integers(-4, 4, 40 * k) * (rng.random(40 * k) < 0.7)
    xs[:k] = 0  # one dot product with no live term
    got = zero_gated_flips(xs, ws, k, x_bits=4, w_bits=3, acc_bits=9)
    assert got == pytest.approx(_gated_reference(xs, ws, k, 4, 3, 9))
    none = zero_gated_flips(xs + (xs == 0), ws + (ws == 0), k, x_bits=4, w_bits=3, acc_bits=9)
    ungated = bitsim.simulate_mac(xs + (xs == 0), ws + (ws == 0), x_bits=4, w_bits=3,
                                  acc_bits=9, length=k)  # fmt: skip
    assert set(none) == set(bitsim.SITES)
    assert none == pytest.approx({s: ungated.mean(s) for s in none})  # nothing to gate


def test_report_zero_gating_column():
    torch.manual_seed(1)
    model, x = Small(), torch.randn(1, 3, 16, 16)
    r = report(model, n=20_000, inputs=x, max_outputs=200, zero_gating=True)
    dw = {row["name"]: row for row in r.layers}["dw"]
    assert dw["zero_share"] > 0 and 0 < dw["gating_saving"] < 1
    sites = ("x", "w", "product", "acc", "addend", "carry")
    assert dw["flips_per_mac_gated"] == pytest.approx(sum(dw[f"flips_{s}_gated"] for s in sites))
    assert dw["gating_saving"] == pytest.approx(
        1 - dw["flips_per_mac_gated"] / dw["flips_per_mac_data"]
    )
    assert "gated -%" in r.render("table")
    assert "gated -%" not in report(model, n=20_000, inputs=x, max_outputs=200).render("table")


def _pt2e(model, x):
    """A PT2E-quantized model (torchao's prepare/convert, the XNNPACK quantizer: int8
    per-tensor activations, int8 per-channel weights), calibrated on x."""
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e
    from torchao.testing.pt2e._xnnpack_quantizer import (
        XNNPACKQuantizer,
        get_symmetric_quantization_config,
    )

    gm = torch.export.export(model.eval(), (x[:1],)).module()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "XNNPACKQuantizer is deprecated"
        quantizer = XNNPACKQuantizer().set_global(
            get_symmetric_quantization_config(is_per_channel=True)
        )
    prepared = prepare_pt2e(gm, quantizer)
    for i in range(len(x)):
        prepared(x[i : i + 1])
    return convert_pt2e(prepared)


def test_pt2e_model_captures_the_graphs_own_integers():
    torch.manual_seed(4)
    x = torch.randn(2, 3, 16, 16)
    q = _pt2e(Small(), x)
    recorded = {}  # the graph's quantize_per_tensor outputs, computed by torch itself

    class Recorder(torch.fx.Interpreter):
        def run_node(self, n):
            out = super().run_node(n)
            if str(n.target).startswith("quantized_decomposed.quantize_per_tensor"):
                recorded.setdefault(n, []).append(out)
            return out

    for i in range(len(x)):
        Recorder(q).run(x[i : i + 1])
    computes = [n for n in q.graph.nodes if str(n.target).startswith(("aten.conv", "aten.lin"))]
    captured = list(capture(q, x))
    # the quantizer leaves the first convolution (padding="same": aten.conv2d.padding) in float
    assert [c.source for c in captured] == ["calibrated", "graph", "graph"]
    for c, node in zip(captured[1:], computes[1:]):
        assert c.layer.a_format == c.layer.w_format == IntFormat(8, True)
        xq = torch.cat(recorded[node.args[0].args[0]]).int().numpy()
        assert np.array_equal(c.x, xq.reshape(c.x.shape)), c.layer.name
        w = getattr(q, node.args[1].args[0].target)  # the int8 weight of dequantize_per_channel
        assert np.array_equal(c.w, w.int().numpy()), c.layer.name
    rows = report(q, inputs=x, n=20_000, max_outputs=100).layers
    assert [r["quantization_data"] for r in rows if r["macs"]] == ["calibrated", "graph", "graph"]


def test_graph_zero_points_reach_the_mac_as_stored_integers():
    """Asymmetric (uint8, zero point 128) fake quantization: the MAC sees the stored integers,
    and a convolution's padding is the zero point; sum (x - zx) (w - zw) is the real
    product."""
    importlib.import_module("torch.ao.quantization.fx._decomposed")  # quantized_decomposed ops
    qd = torch.ops.quantized_decomposed

    class Asym(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(2, 3, 3, padding=1, bias=False)

        def forward(self, x):
            x = torch.fake_quantize_per_tensor_affine(x, 0.05, 128, 0, 255)
            w = qd.dequantize_per_tensor(
                qd.quantize_per_tensor(self.conv.weight, 0.02, 0, -128, 127, torch.int8),
                0.02, 0, -128, 127, torch.int8,
            )  # fmt: skip
            return F.conv2d(x, w, None, 1, 1)

    torch.manual_seed(5)
    x = torch.randn(2, 2, 5, 5)
    layers = [lay.with_formats(IntFormat(8, False), IntFormat(8, True)) for lay in
              from_torch_layers(Asym(), x)]  # fmt: skip
    (c,) = capture(Asym(), x, layers=layers)
    expected = torch.fake_quantize_per_tensor_affine(x, 0.05, 128, 0, 255) / 0.05 + 128
    assert c.source == "graph" and c.x_zero == 128
    assert np.array_equal(c.x, expected.round().int().numpy())
    xs, ws, taken = pe_streams(c)
    dots = ((xs - 128) * ws).reshape(taken, c.k).sum(axis=1)
    real = F.conv2d(torch.tensor(c.x - 128.0), torch.tensor(c.w * 1.0), None, 1, 1)
    assert np.array_equal(dots, real.numpy().ravel())  # padding holds the zero point


def from_torch_layers(model, x):
    from bitsim.nets.pytorch import from_torch

    return from_torch(model, inputs=x).layers


def _ort_values(path, feeds, names):
    """Tensors of an ONNX graph computed by onnxruntime itself (exposed as outputs)."""
    import onnx
    import onnxruntime as ort

    model = onnx.load(path)
    model.graph.output.extend(onnx.ValueInfoProto(name=n) for n in names)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return [dict(zip(names, session.run(names, feed))) for feed in feeds]


def _onnx_model(tmp_path, model, x, name, quant=None):
    """The model exported to ONNX, optionally quantized by onnxruntime ('qdq', 'qoperator':
    static, u8 activations, s8 per-channel weights; 'dynamic': ConvInteger/MatMulInteger)."""
    from onnxruntime import quantization as oq

    path = str(tmp_path / f"{name}.onnx")
    torch.onnx.export(model.eval(), (x[:1],), path, dynamo=False, input_names=["x"])
    if quant is None:
        return path
    qpath = str(tmp_path / f"{name}_{quant}.onnx")
    if quant == "dynamic":
        oq.quantize_dynamic(path, qpath, weight_type=oq.QuantType.QInt8)
        return qpath

    class Reader(oq.CalibrationDataReader):
        def __init__(self):
            self.items = iter([{"x": x[i : i + 1].numpy()} for i in range(len(x))])

        def get_next(self):
            return next(self.items, None)

    fmt = oq.QuantFormat.QDQ if quant == "qdq" else oq.QuantFormat.QOperator
    u8, s8 = oq.QuantType.QUInt8, oq.QuantType.QInt8
    oq.quantize_static(path, qpath, Reader(), quant_format=fmt, per_channel=True,
                       activation_type=u8, weight_type=s8)  # fmt: skip
    return qpath


def _onnx_captured(path, x):
    from bitsim.nets.onnx import from_onnx
    from bitsim.nets.report import apply_precision

    net = from_onnx(path)
    layers = apply_precision(net.layers, Precision(overrides=dict(net.declared)))
    return net, list(capture_onnx(path, x.numpy(), layers=layers))


@pytest.mark.filterwarnings("ignore")
def test_qdq_onnx_captures_the_graphs_integers(tmp_path):
    import onnx

    torch.manual_seed(6)
    x = torch.randn(2, 3, 16, 16)
    path = _onnx_model(tmp_path, Small(), x, "small", "qdq")
    net, captured = _onnx_captured(path, x)
    g = onnx.load(path).graph
    producer = {o: n for n in g.node for o in n.output}
    inits = {t.name: onnx.numpy_helper.to_array(t) for t in g.initializer}
    computes = [n for n in g.node if n.op_type in ("Conv", "Gemm", "MatMul")]
    assert len(captured) == len(computes) == 3
    q_names = [producer[n.input[0]].input[0] for n in computes]  # QuantizeLinear outputs
    values = _ort_values(path, [{"x": x[i : i + 1].numpy()} for i in range(len(x))], q_names)
    for c, node, q_name in zip(captured, computes, q_names):
        assert c.source == "graph" and c.layer.a_format == IntFormat(8, False)
        expected = np.concatenate([v[q_name] for v in values]).astype(np.int32)
        assert np.array_equal(c.x, expected.reshape(c.x.shape)), c.layer.name
        w = inits[producer[node.input[1]].input[0]].astype(np.int32)
        assert np.array_equal(c.w, w if node.op_type == "Conv" else w.reshape(c.w.shape))
        assert int(np.asarray(c.x_zero)) == int(inits[producer[node.input[0]].input[2]])


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("quant", ["qoperator", "dynamic"])
def test_integer_onnx_operators_stream_the_graphs_integers(tmp_path, quant):
    """QLinearConv/QLinearMatMul and ConvInteger/MatMulInteger: the MAC sees the stored
    integers; with the zero points taken off, each output's stream sums to the exact integer
    product (ConvInteger's and MatMulInteger's own outputs from onnxruntime)."""
    import onnx

    torch.manual_seed(7)
    x = torch.randn(2, 3, 16, 16)
    path = _onnx_model(tmp_path, Small(), x, "small", quant)
    net, captured = _onnx_captured(path, x)
    g = onnx.load(path).graph
    kinds = ("QLinearConv", "QLinearMatMul", "QGemm", "ConvInteger", "MatMulInteger")
    ops = [n for n in g.node if n.op_type in kinds]
    assert len(captured) == len(ops) >= 2
    assert {c.source for c in captured} == {"graph"}
    feeds = [{"x": x[i : i + 1].numpy()} for i in range(len(x))]
    inputs = _ort_values(path, feeds, [n.input[0] for n in ops])
    inits = {t.name: onnx.numpy_helper.to_array(t) for t in g.initializer}
    for c, node in zip(captured, ops):  # the operators' own integer inputs
        expected = np.concatenate([v[node.input[0]] for v in inputs]).astype(np.int32)
        assert np.array_equal(c.x, expected.reshape(c.x.shape)), node.name
        w = inits[node.input[1 if quant == "dynamic" else 3]].astype(np.int32)
        trans_b = any(a.name == "transB" and a.i for a in node.attribute)  # QGemm's
        if node.op_type in ("MatMulInteger", "QLinearMatMul", "QGemm") and not trans_b:
            w = w.T  # (K, N): the captured weight has one row per output
        assert np.array_equal(c.w, w), node.name
    if quant != "dynamic":
        return
    values = _ort_values(path, feeds, [n.output[0] for n in ops])
    for c, node in zip(captured, ops):
        xs, ws, taken = pe_streams(c)
        zx = np.repeat(_example_zeros(c, taken), c.k)
        dots = ((xs - zx) * (ws - int(np.asarray(c.w_zero).ravel()[0]))).reshape(taken, c.k)
        expected = np.concatenate([v[node.output[0]] for v in values])
        assert np.array_equal(dots.sum(axis=1), expected.ravel()), node.name


def _example_zeros(c, taken):
    """The activation zero point of each output's example (dynamic quantization: one per
    example)."""
    z = np.asarray(c.x_zero)
    return np.full(taken, int(z)) if z.ndim == 0 else np.repeat(z, taken // len(z))


@pytest.mark.filterwarnings("ignore")
def test_onnx_convtranspose_and_einsum_are_captured(tmp_path):
    torch.manual_seed(8)
    x = torch.randn(2, 3, 5, 6)
    path = _onnx_model(tmp_path, Upsample(), x, "up")
    _, captured = _onnx_captured(path, x)
    assert [c.layer.kind for c in captured] == ["convtranspose", "convtranspose", "linear"]
    for c in captured:
        xs, ws, taken = pe_streams(c)
        dots = (xs * ws).reshape(taken, c.k).sum(axis=1)
        assert np.array_equal(dots, _integer_outputs(c)), c.layer.name


def test_qonnx_quant_integers():
    """QONNX Quant (4-bit unsigned activations, 3-bit signed narrow weights) runs in
    onnxruntime as standard operators; the captured integers are QONNX's own definition."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(9)
    w = rng.standard_normal((6, 5)).astype(np.float32)
    consts = {"s": 0.1, "z": 0.0, "b4": 4.0, "b3": 3.0}
    inits = [numpy_helper.from_array(w, "W")] + [
        numpy_helper.from_array(np.array(v, np.float32), k) for k, v in consts.items()
    ]
    qonnx = "qonnx.custom_op.general"
    nodes = [
        helper.make_node("Quant", ["x", "s", "z", "b4"], ["xq"], domain=qonnx, signed=0),
        helper.make_node("Quant", ["W", "s", "z", "b3"], ["wq"], domain=qonnx, narrow=1),
        helper.make_node("MatMul", ["xq", "wq"], ["y"], name="mm"),
    ]
    graph = helper.make_graph(
        nodes,
        "q",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 6])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 5])],
        inits,
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid(qonnx, 1)]
    )
    model.ir_version = 8  # what onnxruntime reads
    x = rng.standard_normal((3, 6)).astype(np.float32)
    layers = [lay.with_formats(IntFormat(4, False), IntFormat(3, True)) for lay in
              bitsim.from_onnx(model).layers]  # fmt: skip
    (c,) = capture_onnx(model, x, layers=layers)
    assert c.source == "graph"
    assert np.array_equal(c.x, np.clip(np.round(x / np.float32(0.1)), 0, 15))
    assert np.array_equal(c.w, np.clip(np.round(w / np.float32(0.1)), -3, 3).T)


def test_onnx_graph_onnxruntime_cannot_run_is_an_error():
    from onnx import TensorProto, helper, numpy_helper

    qonnx = "qonnx.custom_op.general"
    graph = helper.make_graph(
        [
            helper.make_node("BipolarQuant", ["x", "s"], ["xq"], domain=qonnx),
            helper.make_node("MatMul", ["xq", "W"], ["y"], name="mm"),
        ],
        "q",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2])],
        [
            numpy_helper.from_array(np.ones((4, 2), np.float32), "W"),
            numpy_helper.from_array(np.array(1.0, np.float32), "s"),
        ],  # fmt: skip
        value_info=[helper.make_tensor_value_info("xq", TensorProto.FLOAT, [1, 4])],
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid(qonnx, 1)]
    )
    model.ir_version = 8
    with pytest.raises(ValueError, match="model: onnxruntime cannot run the graph"):
        list(capture_onnx(model, np.zeros((2, 4), np.float32)))
