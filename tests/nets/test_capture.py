"""Real operand streams: integer operands, processing-element order, measured report columns."""

import numpy as np
import pytest
import torch
from torch.nn import functional as F

import bitsim
from bitsim.nets.capture import capture, pe_streams, quantize
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
    if c.layer.kind == "linear":
        return (c.x.astype(np.int64) @ c.w.T.astype(np.int64)).ravel()
    return np.einsum("bik,bjk->bij", c.x.astype(np.int64), c.w.astype(np.int64)).ravel()


@pytest.mark.parametrize(
    "model, inputs",
    [(Small, lambda: torch.randn(2, 3, 16, 16)), (Attention, lambda: torch.randn(2, 10, 16))],
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
    if model is Attention:  # attention's QK^T and AV are captured; einsum is not
        assert {"mha.sdpa.qk", "mha.sdpa.av", "sdpa.av", "bmm"} <= set(seen)
        assert "einsum" not in seen


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


def _gated_reference(xs, ws, k, x_bits, w_bits, acc_bits):
    """A gated MAC written out: a MAC with a zero operand holds every register; the first
    live term of a dot product loads its product; a dot product with no live term loads 0."""
    masks = {"x": (1 << x_bits) - 1, "w": (1 << w_bits) - 1}
    masks["product"], masks["acc"] = (1 << (x_bits + w_bits)) - 1, (1 << acc_bits) - 1
    regs = dict.fromkeys(masks, 0)
    flips = dict.fromkeys(masks, 0)

    def load(site, value):
        flips[site] += bin((regs[site] ^ value) & masks[site]).count("1")
        regs[site] = value & masks[site]

    for d in range(len(xs) // k):
        first = True
        for x, w in zip(xs[d * k : (d + 1) * k], ws[d * k : (d + 1) * k]):
            x, w = int(x), int(w)
            if x == 0 or w == 0:
                continue
            load("x", x)
            load("w", w)
            load("product", x * w)
            load("acc", x * w if first else regs["acc"] + x * w)
            first = False
        if first:
            load("acc", 0)
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
    assert none == pytest.approx({s: ungated.mean(s) for s in none})  # nothing to gate


def test_report_zero_gating_column():
    torch.manual_seed(1)
    model, x = Small(), torch.randn(1, 3, 16, 16)
    r = report(model, n=20_000, inputs=x, max_outputs=200, zero_gating=True)
    dw = {row["name"]: row for row in r.layers}["dw"]
    assert dw["zero_share"] > 0 and 0 < dw["gating_saving"] < 1
    assert dw["flips_per_mac_gated"] == pytest.approx(
        sum(dw[f"flips_{s}_gated"] for s in ("x", "w", "product", "acc"))
    )
    assert "gated -%" in r.render("table")
    assert "gated -%" not in report(model, n=20_000, inputs=x, max_outputs=200).render("table")
