"""PyTorch import (torch comes with the test extra): a hand-built model and a ResNet-18 written
here, torchvision style, whose import equals the built-in layer list."""

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from bitsim.models.layers import Conv2d, Elementwise, Linear, MatMul
from bitsim.nets.pytorch import from_torch
from bitsim.nets.zoo import network

from torch_models import Attention, Small


class BasicBlock(nn.Module):
    def __init__(self, cin, out, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(out, out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out)
        self.downsample = None
        if stride != 1 or cin != out:
            self.downsample = nn.Sequential(
                nn.Conv2d(cin, out, 1, stride, bias=False), nn.BatchNorm2d(out)
            )

    def forward(self, x):
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        out += identity
        return self.relu(out)


class ResNet18(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        cin, stages = 64, []
        for planes, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
            stages.append(
                nn.Sequential(BasicBlock(cin, planes, stride), BasicBlock(planes, planes, 1))
            )
            cin = planes
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512, 1000)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def test_resnet18_import_equals_the_builtin_list():
    imported = from_torch(ResNet18(), (3, 224, 224))
    builtin = network("resnet18")
    assert len(imported.layers) == len(builtin.layers)
    for a, b in zip(imported.layers, builtin.layers):
        assert a == b, (a, b)
    assert imported.macs == 1_814_073_344


def test_small_model_layers():
    layers = from_torch(Small(), (3, 16, 16)).layers
    assert layers == [
        Conv2d("conv", 3, 8, 3, 16, padding=1, bias=True),
        Elementwise("bn", "batchnorm", 8 * 16 * 16),
        Elementwise("act", "clip", 8 * 16 * 16),
        Elementwise("pool", "maxpool", 8 * 8 * 8, window=4, inputs=8 * 16 * 16),
        Conv2d("dw", 8, 8, 3, 8, padding=1, groups=8),
        Elementwise("relu", "compare", 8 * 8 * 8),
        Elementwise("add", "add", 8 * 8 * 8, tensors=2),
        Elementwise("mul", "mul", 8 * 8 * 8, tensors=1),
        Elementwise("gap", "avgpool", 8, window=64, inputs=8 * 8 * 8),
        Linear("fc", 8, 4, bias=True),
    ]


def test_unsupported_operations_are_named():
    class Func(nn.Module):
        def forward(self, x):
            return torch.cumsum(x, 1)

    with pytest.raises(ValueError, match="model: unsupported operation 'cumsum'"):
        from_torch(Func(), (4,))
    with pytest.raises(TypeError, match="model: expected a torch.nn.Module"):
        from_torch(object(), (4,))
    with pytest.raises(
        ValueError,
        match=r"input_shape: the model does not run on inputs of shape "
        r"\(1, 5, 224, 224\)",
    ):
        from_torch(ResNet18(), (5, 224, 224))


def test_attention_matmuls_are_counted():
    layers = {layer.name: layer for layer in from_torch(Attention(), (10, 16)).layers}
    # MultiheadAttention: packed QKV projection, QK^T (K = head dim 8), AV (K = 10 tokens)
    assert layers["mha.linear"] == Linear("mha.linear", 16, 48, True, positions=10)
    assert layers["mha.sdpa.qk"] == MatMul("mha.sdpa.qk", 10, 8, 10, batch=2)
    assert layers["mha.sdpa.softmax"] == Elementwise("mha.sdpa.softmax", "softmax", 200)
    assert layers["mha.sdpa.av"] == MatMul("mha.sdpa.av", 10, 10, 8, batch=2)
    assert layers["ln"] == Elementwise("ln", "layernorm", 160)
    assert layers["proj"].macs == 10 * 16 * 16
    assert layers["matmul"] == MatMul("matmul", 10, 8, 10, batch=2)  # @
    assert layers["softmax"].count == 200
    assert layers["bmm"] == MatMul("bmm", 10, 10, 8, batch=2)
    assert layers["einsum"] == MatMul("einsum", 10, 8, 10, batch=2)
    assert layers["sdpa.qk"].macs == layers["sdpa.av"].macs == 2 * 10 * 10 * 8
    assert layers["act"].op == "gelu"
    # a parameter as right operand is a linear layer, its weight stored (in, out)
    assert layers["matmul_1"] == Linear("matmul_1", 16, 8, positions=10)
    assert layers["sum"] == Elementwise("sum", "sum", 1, window=200, inputs=200)


def test_keyword_inputs_and_integer_ids():
    class Embed(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(100, 8)
            self.fc = nn.Linear(8, 4)

        def forward(self, input_ids, attention_mask):
            return self.fc(self.emb(input_ids) * attention_mask[..., None])

    layers = from_torch(Embed(), {"input_ids": (1, 12), "attention_mask": (1, 12)}).layers
    assert [layer.name for layer in layers] == ["mul", "fc"]
    assert layers[1] == Linear("fc", 8, 4, True, positions=12)


def test_imported_model_reports_like_the_builtin():
    from bitsim.nets.report import Precision, report

    p = Precision(a_bits=4, w_bits=4, first_last_bits=8)
    imported = report(from_torch(ResNet18(), (3, 224, 224)), p, n=20_000)
    builtin = report(network("resnet18"), p, n=20_000)
    assert imported.totals == {**builtin.totals}
    assert [r["name"] for r in imported.layers] == [r["name"] for r in builtin.layers]


def test_quantized_graphs_declare_their_widths():
    import torch.ao.quantization.fx._decomposed  # noqa: F401 - registers quantized_decomposed

    qd = torch.ops.quantized_decomposed

    class PT2E(nn.Module):  # what convert_pt2e and QAT exports leave in the graph
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(8, 4)
            self.conv = nn.Conv2d(1, 2, 3)

        def forward(self, x):
            xq = qd.quantize_per_tensor(x, 0.1, 0, 0, 15, torch.uint8)
            xd = qd.dequantize_per_tensor(xq, 0.1, 0, 0, 15, torch.uint8)
            w = torch.fake_quantize_per_tensor_affine(self.fc.weight, 0.05, 0, -4, 3)
            y = F.linear(xd, w, self.fc.bias)
            return self.conv(y.view(1, 1, 2, 2).repeat(1, 1, 2, 2))

    net = from_torch(PT2E(), (8,))
    assert [layer.name for layer in net.layers] == ["linear", "conv"]
    assert net.declared == {
        "linear": {"a_bits": 4, "a_signed": False, "w_bits": 3, "w_signed": True}
    }
    from bitsim.nets.report import report

    rows = report(PT2E(), input_shape=(8,), n=10_000).layers
    assert [(r["a_bits"], r["w_bits"]) for r in rows if r["macs"]] == [(4, 3), (8, 8)]
    assert rows[0]["acc_bits_worst_signed"] == 10  # u4 x s3, K = 8: sums in [-480, 360]
