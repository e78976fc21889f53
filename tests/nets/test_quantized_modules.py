"""Quantized PyTorch modules: eager torch.ao (static and dynamic) and Brevitas layers give their
widths and integer operands through their reference modules (bitsim.nets.quantized)."""

import numpy as np
import pytest
import torch
from torch import nn

from bitsim.nets.capture import capture
from bitsim.nets.pytorch import from_torch
from bitsim.nets.report import Precision, apply_precision, report


def _layers(model, x):
    net = from_torch(model, inputs=x)
    return net, apply_precision(net.layers, Precision(overrides=dict(net.declared)))


class Eager(nn.Module):
    def __init__(self):
        super().__init__()
        import torch.ao.quantization as tq

        self.quant = tq.QuantStub()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.relu = nn.ReLU()
        self.fc = nn.Linear(4 * 8 * 8, 5)
        self.dequant = tq.DeQuantStub()

    def forward(self, x):
        x = self.relu(self.conv(self.quant(x)))
        return self.dequant(self.fc(x.flatten(1)))


@pytest.mark.filterwarnings("ignore")
def test_eager_torch_ao_static_modules():
    import torch.ao.quantization as tq

    torch.manual_seed(0)
    x = torch.randn(3, 3, 8, 8)
    model = Eager().eval()
    model.qconfig = tq.get_default_qconfig("x86")
    prepared = tq.prepare(model)
    prepared(x)
    q = tq.convert(prepared)
    net, layers = _layers(q, x)
    assert [lay.name for lay in net.layers if lay.macs and lay.kind != "elementwise"] == [
        "conv",
        "fc",
    ]
    assert net.declared["conv"] == {"a_bits": 8, "a_signed": False, "w_bits": 8, "w_signed": True}
    assert net.declared["fc"] == net.declared["conv"]
    conv, fc = capture(q, x, layers=layers)
    assert conv.source == fc.source == "graph"
    assert np.array_equal(conv.x, q.quant(x).int_repr().int().numpy())
    assert np.array_equal(conv.w, q.conv.weight().int_repr().int().numpy())
    assert np.array_equal(fc.w, q.fc.weight().int_repr().int().numpy())
    assert conv.x_zero == int(q.quant.zero_point)
    # the classifier's input: the eager model's own integers (float requantization: +-1 at most)
    seen = []
    hook = q.relu.register_forward_hook(lambda m, i, o: seen.append(o.int_repr().flatten(1)))
    q(x)
    hook.remove()
    eager = seen[0].int().numpy()
    assert np.abs(fc.x - eager).max() <= 1 and np.mean(fc.x == eager) > 0.99


@pytest.mark.filterwarnings("ignore")
def test_eager_torch_ao_dynamic_linear():
    import torch.ao.quantization as tq

    torch.manual_seed(1)
    model = nn.Sequential(nn.Linear(8, 6), nn.ReLU(), nn.Linear(6, 3)).eval()
    q = tq.quantize_dynamic(model, {nn.Linear}, dtype=torch.qint8)
    x = torch.randn(2, 5, 8)
    net, layers = _layers(q, x)
    assert net.declared["0"] == {"a_bits": 7, "a_signed": False, "w_bits": 8, "w_signed": True}
    first, second = capture(q, x, layers=layers)
    assert np.array_equal(first.w, q[0].weight().int_repr().int().numpy())
    assert first.x.min() >= 0 and first.x.max() == 127  # min/max per example, reduce_range
    zeros = np.repeat(np.asarray(first.x_zero), 5)  # dynamic: one zero point per example
    scales = [float(x[i].max() - min(x[i].min(), 0)) / 127 for i in range(2)]
    real = (first.x - zeros[:, None]) * np.repeat(scales, 5)[:, None]
    assert np.allclose(real, x.reshape(-1, 8).numpy(), atol=max(scales) / 2 + 1e-6)
    assert second.source == "graph"


@pytest.mark.filterwarnings("ignore")
def test_brevitas_w4a4():
    qnn = pytest.importorskip("brevitas.nn")

    class W4A4(nn.Module):
        def __init__(self):
            super().__init__()
            self.inp = qnn.QuantIdentity(bit_width=4, return_quant_tensor=True)
            self.conv = qnn.QuantConv2d(3, 4, 3, padding=1, weight_bit_width=4, bias=False,
                                        return_quant_tensor=True)  # fmt: skip
            self.act = qnn.QuantReLU(bit_width=4, return_quant_tensor=True)
            self.fc = qnn.QuantLinear(4 * 8 * 8, 5, bias=True, weight_bit_width=4)

        def forward(self, x):
            return self.fc(self.act(self.conv(self.inp(x))).flatten(1))

    torch.manual_seed(2)
    model, x = W4A4().eval(), torch.randn(2, 3, 8, 8)
    net, layers = _layers(model, x)
    assert net.declared == {
        "conv": {"a_bits": 4, "a_signed": True, "w_bits": 4, "w_signed": True},
        "fc": {"a_bits": 4, "a_signed": False, "w_bits": 4, "w_signed": True},
    }
    conv, fc = capture(model, x, layers=layers)
    assert conv.source == fc.source == "graph"
    with torch.no_grad():
        assert np.array_equal(conv.x, model.inp(x).int().int().numpy())
        assert np.array_equal(conv.w, model.conv.quant_weight().int().int().numpy())
        assert np.array_equal(fc.w, model.fc.quant_weight().int().int().numpy())
        act = model.act(model.conv(model.inp(x))).int().flatten(1).int().numpy()
    assert np.array_equal(fc.x, act)
    rows = report(model, n=20_000, inputs=x).layers
    assert [(r["a_bits"], r["w_bits"]) for r in rows if r["macs"] and r.get("k")] == [(4, 4)] * 2
