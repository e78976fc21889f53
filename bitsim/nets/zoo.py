"""Built-in networks: exact layer lists at batch 1, in execution order, named as the modules of
the torchvision models (ResNet-20 after He et al. 2016, sec. 4.2).

Every convolution, shortcut (downsample) convolution and classifier is listed, and so are the
elementwise layers (BatchNorm, ReLU/ReLU6, residual adds, pooling) whose cost ACE_v2 counts.
Adaptive average pooling that does not change the shape (VGG at 224x224) and dropout are no-ops
at inference and are left out.

MAC totals (convolutions + fully connected) equal the counts published with torchvision /
fvcore: ResNet-18 1.814e9, ResNet-34 3.664e9, ResNet-50 4.089e9, VGG-16 and VGG-16-BN 15.470e9,
MobileNet-V2 0.3008e9, ResNet-20 (CIFAR-10) 40.55e6.

The PANN paper quotes 1.82e9 (ResNet-18), 15.53e9 (VGG-16-BN) and 0.33e9 (MobileNet-V2). The
first two are what the ptflops counter reports: MACs plus one operation per biased output, two per
BatchNorm element, one per activation output and one per pooling input element
(``ptflops_style_count``: 1.822e9 and 15.530e9). For MobileNet-V2 that count is 0.320e9 and
the MAC count 0.301e9; we cannot reproduce 0.33e9 (3% above the former, 10% above the latter)
and use the exact MAC count.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Dict, List, Tuple

from bitsim._core.checks import InputError
from bitsim.models.layers import Conv2d, Elementwise, Linear

__all__ = [
    "NETWORKS",
    "Network",
    "mobilenet_v2",
    "network",
    "ptflops_style_count",
    "resnet",
    "resnet20",
    "vgg16",
]


@dataclass
class Network:
    name: str
    input_shape: Tuple[int, ...]  # channels, height, width; (features,) from from_torch
    layers: list
    # widths the model itself declares (ONNX quantization): layer name -> a_bits, a_signed,
    # w_bits, w_signed, used as precision overrides by bitsim.nets.report
    declared: Dict[str, dict] = field(default_factory=dict)

    @property
    def macs(self) -> int:
        return sum(layer.macs for layer in self.layers)


class _Builder:
    """Appends layers while tracking the activation shape (channels, height, width)."""

    def __init__(self, shape):
        self.c, self.h, self.w = shape
        self.layers: List = []
        self.relu_before = False  # does the current activation come out of a ReLU?

    @property
    def elements(self) -> int:
        return self.c * self.h * self.w

    def conv(self, name, out, k, stride=1, padding=0, groups=1, bias=False):
        layer = Conv2d(
            name, self.c, out, k, (self.h, self.w), stride, padding, groups=groups, bias=bias
        )
        self.layers.append(layer)
        self.c, (self.h, self.w) = out, layer.output_hw
        self.relu_before = False
        return layer

    def linear(self, name, out, bias=True):
        self.layers.append(Linear(name, self.elements, out, bias=bias))
        self.c, self.h, self.w = out, 1, 1
        self.relu_before = False

    def elementwise(self, name, op, count=None, **kw):
        self.layers.append(Elementwise(name, op, self.elements if count is None else count, **kw))

    def bn(self, name):
        self.elementwise(name, "batchnorm")

    def relu(self, name):
        self.elementwise(name, "compare")
        self.relu_before = True

    def relu6(self, name):
        self.elementwise(name, "clip")
        self.relu_before = True

    def add(self, name):
        self.elementwise(name, "add", tensors=2)

    def maxpool(self, name, k, stride, padding=0):
        inputs = self.elements
        self.h = (self.h + 2 * padding - k) // stride + 1
        self.w = (self.w + 2 * padding - k) // stride + 1
        self.elementwise(name, "maxpool", window=k * k, inputs=inputs)

    def global_avgpool(self, name):
        self.elementwise(
            name, "avgpool", count=self.c, window=self.h * self.w, inputs=self.elements
        )
        self.h = self.w = 1


def _shortcut(b: _Builder, name, block_input, out, stride):
    """The 1x1 projection (and its BatchNorm) of a block's input; the shape stays the block's."""
    saved = (b.c, b.h, b.w)
    b.c, b.h, b.w = block_input
    b.conv(f"{name}.downsample.0", out, 1, stride)
    b.bn(f"{name}.downsample.1")
    b.c, b.h, b.w = saved


def _basic_block(b: _Builder, name, out, stride, shortcut="conv"):
    block_input = (b.c, b.h, b.w)
    b.conv(f"{name}.conv1", out, 3, stride, 1)
    b.bn(f"{name}.bn1")
    b.relu(f"{name}.relu")
    b.conv(f"{name}.conv2", out, 3, 1, 1)
    b.bn(f"{name}.bn2")
    if (stride != 1 or block_input[0] != out) and shortcut == "conv":
        _shortcut(b, name, block_input, out, stride)
    b.add(f"{name}.add")
    b.relu(f"{name}.relu")


def _bottleneck(b: _Builder, name, planes, stride):
    block_input = (b.c, b.h, b.w)
    out = planes * 4
    b.conv(f"{name}.conv1", planes, 1)
    b.bn(f"{name}.bn1")
    b.relu(f"{name}.relu")
    b.conv(f"{name}.conv2", planes, 3, stride, 1)
    b.bn(f"{name}.bn2")
    b.relu(f"{name}.relu")
    b.conv(f"{name}.conv3", out, 1)
    b.bn(f"{name}.bn3")
    if stride != 1 or block_input[0] != out:
        _shortcut(b, name, block_input, out, stride)
    b.add(f"{name}.add")
    b.relu(f"{name}.relu")


def resnet(depth: int) -> Network:
    """ResNet-18/34 (basic blocks) or ResNet-50 (bottlenecks, stride on the 3x3), 224x224."""
    blocks = {18: [2, 2, 2, 2], 34: [3, 4, 6, 3], 50: [3, 4, 6, 3]}
    if depth not in blocks:
        raise InputError(f"depth: expected 18, 34 or 50, found {depth}")
    b = _Builder((3, 224, 224))
    b.conv("conv1", 64, 7, 2, 3)
    b.bn("bn1")
    b.relu("relu")
    b.maxpool("maxpool", 3, 2, 1)
    for stage, (planes, n) in enumerate(zip([64, 128, 256, 512], blocks[depth]), start=1):
        for i in range(n):
            stride = 2 if stage > 1 and i == 0 else 1
            name = f"layer{stage}.{i}"
            if depth == 50:
                _bottleneck(b, name, planes, stride)
            else:
                _basic_block(b, name, planes, stride)
    b.global_avgpool("avgpool")
    b.linear("fc", 1000)
    return Network(f"resnet{depth}", (3, 224, 224), b.layers)


def resnet20(shortcut: str = "identity") -> Network:
    """ResNet-20 for CIFAR-10 (32x32): 3 stages of 3 basic blocks, 16/32/64 channels.

    shortcut='identity' is the paper's option A (strided identity, zero-padded channels: no
    weights, no MACs); 'conv' uses 1x1 projection convolutions (option B).
    """
    if shortcut not in ("identity", "conv"):
        raise InputError(f"shortcut: expected 'identity' or 'conv', found {shortcut!r}")
    b = _Builder((3, 32, 32))
    b.conv("conv1", 16, 3, 1, 1)
    b.bn("bn1")
    b.relu("relu")
    for stage, planes in enumerate([16, 32, 64], start=1):
        for i in range(3):
            _basic_block(b, f"layer{stage}.{i}", planes, 2 if stage > 1 and i == 0 else 1, shortcut)
    b.global_avgpool("avgpool")
    b.linear("fc", 10)
    return Network("resnet20" if shortcut == "identity" else "resnet20-conv", (3, 32, 32), b.layers)


def vgg16(batch_norm: bool = False) -> Network:
    """VGG-16 (configuration D) with or without BatchNorm, 224x224, as torchvision."""
    cfg = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]
    b = _Builder((3, 224, 224))
    i = 0
    for v in cfg:
        if v == "M":
            b.maxpool(f"features.{i}", 2, 2)
            i += 1
            continue
        b.conv(f"features.{i}", v, 3, 1, 1, bias=True)
        i += 1
        if batch_norm:
            b.bn(f"features.{i}")
            i += 1
        b.relu(f"features.{i}")
        i += 1
    b.linear("classifier.0", 4096)
    b.relu("classifier.1")
    b.linear("classifier.3", 4096)
    b.relu("classifier.4")
    b.linear("classifier.6", 1000)
    return Network("vgg16_bn" if batch_norm else "vgg16", (3, 224, 224), b.layers)


def mobilenet_v2() -> Network:
    """MobileNet-V2 (width 1.0), 224x224, as torchvision."""
    b = _Builder((3, 224, 224))
    b.conv("features.0.0", 32, 3, 2, 1)
    b.bn("features.0.1")
    b.relu6("features.0.2")
    settings = [
        (1, 16, 1, 1),
        (6, 24, 2, 2),
        (6, 32, 3, 2),
        (6, 64, 4, 2),
        (6, 96, 3, 1),
        (6, 160, 3, 2),
        (6, 320, 1, 1),
    ]
    index = 1
    for t, c, n, s in settings:
        for i in range(n):
            name, cin, stride = f"features.{index}", b.c, s if i == 0 else 1
            j = 0
            if t != 1:
                b.conv(f"{name}.conv.0.0", cin * t, 1)
                b.bn(f"{name}.conv.0.1")
                b.relu6(f"{name}.conv.0.2")
                j = 1
            hidden = b.c
            b.conv(f"{name}.conv.{j}.0", hidden, 3, stride, 1, groups=hidden)
            b.bn(f"{name}.conv.{j}.1")
            b.relu6(f"{name}.conv.{j}.2")
            b.conv(f"{name}.conv.{j + 1}", c, 1)
            b.bn(f"{name}.conv.{j + 2}")
            if stride == 1 and cin == c:
                b.add(f"{name}.add")
            index += 1
    b.conv("features.18.0", 1280, 1)
    b.bn("features.18.1")
    b.relu6("features.18.2")
    b.global_avgpool("avgpool")
    b.linear("classifier.1", 1000)
    return Network("mobilenet_v2", (3, 224, 224), b.layers)


NETWORKS: Dict[str, Callable[[], Network]] = {
    "resnet18": lambda: resnet(18),
    "resnet34": lambda: resnet(34),
    "resnet50": lambda: resnet(50),
    "vgg16": lambda: vgg16(False),
    "vgg16_bn": lambda: vgg16(True),
    "mobilenet_v2": mobilenet_v2,
    "resnet20": lambda: resnet20("identity"),
    "resnet20-conv": lambda: resnet20("conv"),
}


def network(name: str) -> Network:
    """A built-in network by name (see NETWORKS)."""
    if name not in NETWORKS:
        raise InputError(f"network: expected one of {', '.join(NETWORKS)}, found {name!r}")
    return NETWORKS[name]()


def ptflops_style_count(net: Network) -> int:
    """MACs + 1 per biased output + 2 per BatchNorm element + 1 per ReLU/ReLU6 output + 1 per
    pooling input element: the operation count of the ptflops counter, which the PANN paper
    quotes as MACs."""
    total = net.macs
    for layer in net.layers:
        if layer.kind != "elementwise":
            total += layer.output_elements if layer.bias else 0
        elif layer.op == "batchnorm":
            total += 2 * layer.count
        elif layer.op in ("compare", "clip"):
            total += layer.count
        elif layer.op in ("maxpool", "avgpool"):
            total += layer.input_elements
    return total
