"""Layer descriptions: shapes and number formats, nothing about cost (see bitsim.models.costs).

Shapes follow PyTorch: a Conv2d of kernel k, stride s, padding p and dilation d maps an input of
height H to floor((H + 2p - d(k - 1) - 1) / s) + 1 rows. Batch size is 1.

Four kinds of layer multiply and accumulate: Conv2d, ConvTranspose2d and Linear (activations
times weights) and
MatMul (activations times activations: attention's QK^T and AV, ``bmm``, ``@``, ``einsum``).
Every other operation is an Elementwise layer of one of ``ELEMENTWISE_OPS``.
"""

from __future__ import annotations

import math
from dataclasses import Field, dataclass, field, replace
from typing import TYPE_CHECKING, Any, ClassVar, Dict, Optional, Tuple, Union

from bitsim._core.checks import InputError, check_int
from bitsim.sim.formats import IntFormat, NumberFormat, parse_format

__all__ = [
    "ELEMENTWISE_OPS",
    "INT8",
    "Conv2d",
    "ConvTranspose2d",
    "Elementwise",
    "Linear",
    "MatMul",
    "einsum_dims",
]

Pair = Union[int, Tuple[int, int]]
INT8 = IntFormat(8, True)
ELEMENTWISE_OPS = (
    "add",
    "mul",
    "shift",
    "compare",
    "clip",
    "batchnorm",
    "maxpool",
    "avgpool",
    "sum",
    "exp",
    "sigmoid",
    "silu",
    "tanh",
    "gelu",
    "softmax",
    "layernorm",
)


def _pair(value, name) -> Tuple[int, int]:
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise InputError(f"{name}: expected an integer or a pair, found {value!r}")
        return check_int(value[0], name, 0), check_int(value[1], name, 0)
    v = check_int(value, name, 0)
    return v, v


def _format(value, name) -> NumberFormat:
    try:
        return parse_format(value)
    except (TypeError, ValueError) as err:
        raise type(err)(f"{name}: {err}") from None


def _parse_formats(layer, names: Tuple[str, ...]) -> None:
    """Store the layer's format fields ``names`` as NumberFormats (given as such or by name)."""
    for name in names:
        if getattr(layer, name) is not None:
            object.__setattr__(layer, name, _format(getattr(layer, name), name))


class _Formats:
    """What every layer derives from its a_format / out_format fields."""

    a_format: NumberFormat
    out_format: Optional[NumberFormat]

    @property
    def output_format(self) -> NumberFormat:
        """Format of the output activations written to memory (default: a_format)."""
        return self.out_format or self.a_format


class _Weighted(_Formats):
    """Convolution and linear layers: activation, weight and output formats."""

    w_format: NumberFormat
    if TYPE_CHECKING:  # the subclasses are dataclasses
        __dataclass_fields__: ClassVar[Dict[str, Field[Any]]]

    def with_formats(self, a=None, w=None, out=None):
        return replace(
            self,
            a_format=a or self.a_format,
            w_format=w or self.w_format,
            out_format=out or self.out_format,
        )


def _check_convolution(layer, offsets: Tuple[str, ...]) -> None:
    """Checks of a (transposed) convolution's fields; pairs stored as (h, w), formats as
    NumberFormats. ``offsets``: the pair fields that may be 0 (paddings)."""
    check_int(layer.in_channels, "in_channels", 1)
    check_int(layer.out_channels, "out_channels", 1)
    check_int(layer.groups, "groups", 1)
    for name in ("kernel", "stride", "dilation", "input_hw"):
        if min(_pair(getattr(layer, name), name)) < 1:
            raise InputError(f"{name}: expected integers >= 1, found {getattr(layer, name)!r}")
    for name in ("kernel", "stride", *offsets, "dilation", "input_hw"):
        object.__setattr__(layer, name, _pair(getattr(layer, name), name))
    if layer.in_channels % layer.groups or layer.out_channels % layer.groups:
        raise InputError(
            f"groups: expected a divisor of in_channels ({layer.in_channels}) "
            f"and out_channels ({layer.out_channels}), found {layer.groups}"
        )
    _parse_formats(layer, ("a_format", "w_format", "out_format"))


class _Convolution(_Weighted):
    """Conv2d and ConvTranspose2d: kernel and input size as (h, w) pairs; every one of the
    ``positions`` (output pixels of a convolution, input pixels of a transposed one) uses every
    weight once."""

    in_channels: int
    out_channels: int
    groups: int
    kernel: Pair
    input_hw: Pair
    _SHAPE_MARK: ClassVar[str] = ""  # after the kernel size in ``shape``
    if TYPE_CHECKING:  # properties of the subclasses

        @property
        def positions(self) -> int: ...

        @property
        def output_hw(self) -> Tuple[int, int]: ...

    @property
    def kernel_hw(self):
        return _pair(self.kernel, "kernel")

    @property
    def input_hw_pair(self):
        return _pair(self.input_hw, "input_hw")

    @property
    def weights(self) -> int:
        """out_channels x in_channels / groups x kh x kw."""
        kh, kw = self.kernel_hw
        return self.in_channels * self.out_channels // self.groups * kh * kw

    @property
    def macs(self) -> int:
        return self.positions * self.weights

    @property
    def input_elements(self) -> int:
        h, w = self.input_hw_pair
        return self.in_channels * h * w

    @property
    def output_elements(self) -> int:
        oh, ow = self.output_hw
        return self.out_channels * oh * ow

    @property
    def shape(self) -> str:
        kh, kw = self.kernel_hw
        g = f"/g{self.groups}" if self.groups > 1 else ""
        return f"{self.in_channels}x{self.out_channels}x{kh}x{kw}{self._SHAPE_MARK}{g}"


@dataclass(frozen=True)
class Conv2d(_Convolution):
    """2-D convolution. ``a_format``: input activations, ``w_format``: weights, ``out_format``:
    output activations as written to memory (default: a_format)."""

    name: str
    in_channels: int
    out_channels: int
    kernel: Pair
    input_hw: Pair
    stride: Pair = 1
    padding: Pair = 0
    dilation: Pair = 1
    groups: int = 1
    bias: bool = False
    a_format: NumberFormat = INT8
    w_format: NumberFormat = INT8
    out_format: Optional[NumberFormat] = None
    kind: str = field(default="conv", init=False)

    def __post_init__(self):
        _check_convolution(self, ("padding",))
        oh, ow = self.output_hw
        if oh < 1 or ow < 1:
            raise InputError(
                f"input_hw: a {self.kernel_hw[0]}x{self.kernel_hw[1]} kernel (dilation "
                f"{self.dilation}, padding {self.padding}) does not fit an input of "
                f"{self.input_hw_pair[0]}x{self.input_hw_pair[1]}"
            )

    @property
    def output_hw(self):
        (h, w), (kh, kw) = self.input_hw_pair, self.kernel_hw
        (sh, sw), (ph, pw) = _pair(self.stride, "stride"), _pair(self.padding, "padding")
        dh, dw = _pair(self.dilation, "dilation")
        return (
            (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1,
            (w + 2 * pw - dw * (kw - 1) - 1) // sw + 1,
        )

    @property
    def positions(self) -> int:
        """Output pixels per output channel."""
        oh, ow = self.output_hw
        return oh * ow

    @property
    def k(self) -> int:
        """Dot-product length: in_channels / groups x kh x kw."""
        kh, kw = self.kernel_hw
        return self.in_channels // self.groups * kh * kw


def _taps(kernel: int, stride: int, dilation: int) -> int:
    """Most kernel taps of a transposed convolution that reach one output position."""
    counts = [0] * stride
    for t in range(kernel):
        counts[(t * dilation) % stride] += 1
    return max(counts)


@dataclass(frozen=True)
class ConvTranspose2d(_Convolution):
    """2-D transposed convolution (PyTorch's ConvTranspose2d, ONNX ConvTranspose): every input
    pixel scatters a kernel of products into the output, which has
    (H - 1) s - 2p + d (k - 1) + output_padding + 1 rows.

    ``positions`` counts input pixels (each makes out_channels x in_channels / groups x kh x kw
    products, so MACs = positions x out_channels x in_channels / groups x kh x kw, and the
    costs' per-position formulas hold; products that fall in the border cropped by ``padding``
    are counted, as fvcore counts them); ``k``, the dot-product length that sizes the
    accumulator, is the most terms any output sums: in_channels / groups times the kernel taps
    that reach one output row and column.
    """

    name: str
    in_channels: int
    out_channels: int
    kernel: Pair
    input_hw: Pair
    stride: Pair = 1
    padding: Pair = 0
    output_padding: Pair = 0
    dilation: Pair = 1
    groups: int = 1
    bias: bool = False
    a_format: NumberFormat = INT8
    w_format: NumberFormat = INT8
    out_format: Optional[NumberFormat] = None
    kind: str = field(default="convtranspose", init=False)
    _SHAPE_MARK = "T"

    def __post_init__(self):
        _check_convolution(self, ("padding", "output_padding"))
        if min(self.output_hw) < 1:
            raise InputError(f"padding: {self.padding} leaves no output for {self.input_hw}")

    @property
    def output_hw(self):
        (h, w), (kh, kw) = self.input_hw_pair, self.kernel_hw
        (sh, sw), (ph, pw) = _pair(self.stride, "stride"), _pair(self.padding, "padding")
        (dh, dw), (oh, ow) = _pair(self.dilation, "dilation"), _pair(self.output_padding, "")
        return (
            (h - 1) * sh - 2 * ph + dh * (kh - 1) + oh + 1,
            (w - 1) * sw - 2 * pw + dw * (kw - 1) + ow + 1,
        )

    @property
    def positions(self) -> int:
        """Input pixels (see the class docstring)."""
        h, w = self.input_hw_pair
        return h * w

    @property
    def k(self) -> int:
        (kh, kw), (sh, sw) = self.kernel_hw, _pair(self.stride, "stride")
        dh, dw = _pair(self.dilation, "dilation")
        return self.in_channels // self.groups * _taps(kh, sh, dh) * _taps(kw, sw, dw)


class _DotProducts(_Weighted):
    """Layers without a kernel (a 1x1 one), Linear and MatMul: ``positions`` rows of
    ``out_channels`` dot products of length ``in_channels``; the input holds ``positions`` x
    ``in_channels`` elements (a MatMul's left operand), the output ``positions`` x
    ``out_channels``."""

    groups = 1
    if TYPE_CHECKING:  # fields or properties of the subclasses

        @property
        def positions(self) -> int: ...

        @property
        def in_channels(self) -> int: ...

        @property
        def out_channels(self) -> int: ...

    @property
    def kernel_hw(self):
        return (1, 1)

    @property
    def k(self) -> int:
        return self.in_channels

    @property
    def macs(self) -> int:
        return self.positions * self.in_channels * self.out_channels

    @property
    def input_elements(self) -> int:
        return self.positions * self.in_channels

    @property
    def output_elements(self) -> int:
        return self.positions * self.out_channels


@dataclass(frozen=True)
class Linear(_DotProducts):
    """Fully connected layer: in_features -> out_features at ``positions`` output positions
    (1 for a classifier; the tokens of a sequence for a transformer's projections)."""

    name: str
    in_features: int
    out_features: int
    bias: bool = False
    a_format: NumberFormat = INT8
    w_format: NumberFormat = INT8
    out_format: Optional[NumberFormat] = None
    positions: int = 1
    kind: str = field(default="linear", init=False)

    def __post_init__(self):
        check_int(self.in_features, "in_features", 1)
        check_int(self.out_features, "out_features", 1)
        check_int(self.positions, "positions", 1)
        _parse_formats(self, ("a_format", "w_format", "out_format"))

    @property
    def in_channels(self) -> int:
        return self.in_features

    @property
    def out_channels(self) -> int:
        return self.out_features

    @property
    def weights(self) -> int:
        return self.in_features * self.out_features

    @property
    def shape(self) -> str:
        t = f"{self.positions}x" if self.positions > 1 else ""
        return f"{t}{self.in_features}x{self.out_features}"


@dataclass(frozen=True)
class MatMul(_DotProducts):
    """Product of two activation tensors: ``batch`` independent (m x k) @ (k x n) products.

    Both operands are activations (nothing is a stored weight): attention's scores QK^T have
    k = head dimension and n = sequence length, its output AV k = sequence length; ``batch``
    counts heads (and batch dimensions). ``a_format``: the left operand, ``w_format``: the right
    one (the MAC's weight port), ``out_format``: the output (default a_format).
    """

    name: str
    m: int
    k_dim: int
    n: int
    batch: int = 1
    a_format: NumberFormat = INT8
    w_format: NumberFormat = INT8
    out_format: Optional[NumberFormat] = None
    kind: str = field(default="matmul", init=False)

    def __post_init__(self):
        for name in ("m", "k_dim", "n", "batch"):
            check_int(getattr(self, name), name, 1)
        _parse_formats(self, ("a_format", "w_format", "out_format"))

    bias = False
    weights = 0

    @property
    def positions(self) -> int:
        """Output rows: batch x m (each a row of n dot products)."""
        return self.batch * self.m

    @property
    def in_channels(self) -> int:
        return self.k_dim

    @property
    def out_channels(self) -> int:
        return self.n

    @property
    def right_elements(self) -> int:
        """Right operand elements (the left one: ``input_elements``)."""
        return self.batch * self.k_dim * self.n

    @property
    def shape(self) -> str:
        b = f"{self.batch}x" if self.batch > 1 else ""
        return f"{b}{self.m}x{self.k_dim}x{self.n}"


@dataclass(frozen=True)
class Elementwise(_Formats):
    """``count`` elementwise operations (one per output element).

    op: 'add' (a + b), 'mul' (a * b), 'shift' (a shifted by a b-bit amount), 'compare'
    (compare and select, as ReLU), 'clip' (two compares, as ReLU6), 'batchnorm' (inference:
    a * scale + shift, one multiply by a b-format constant and one add), 'maxpool' (window - 1
    compares), 'avgpool' (mean of ``window`` values: window - 1 adds and one multiply by a
    b-format constant, a shift when window is a power of two), 'sum' (of ``window`` values:
    window - 1 adds); the nonlinear functions 'exp',
    'sigmoid', 'silu', 'tanh', 'gelu', 'softmax' and 'layernorm' (per output element), made of basic
    operations as in integer-only BERT (see ``bitsim.models.costs.element_ops``). ``tensors``:
    operands read from
    memory per output element (1 for per-channel constants such as BatchNorm's scale);
    ``inputs`` overrides the elements read (a pooling layer reads its input tensor once).
    """

    name: str
    op: str
    count: int
    a_format: NumberFormat = INT8
    b_format: NumberFormat = INT8
    out_format: Optional[NumberFormat] = None
    window: int = 1
    tensors: int = 1
    inputs: Optional[int] = None  # elements read; default count x window x tensors
    kind: str = field(default="elementwise", init=False)

    def __post_init__(self):
        if self.op not in ELEMENTWISE_OPS:
            raise InputError(f"op: expected one of {', '.join(ELEMENTWISE_OPS)}, found {self.op!r}")
        check_int(self.count, "count", 0)
        check_int(self.window, "window", 1)
        check_int(self.tensors, "tensors", 0, 2)
        if self.inputs is not None:
            check_int(self.inputs, "inputs", 0)
        _parse_formats(self, ("a_format", "b_format", "out_format"))

    macs = 0
    k = 0
    weights = 0

    @property
    def input_elements(self) -> int:
        return self.count * self.window * self.tensors if self.inputs is None else self.inputs

    @property
    def output_elements(self) -> int:
        return self.count

    @property
    def shape(self) -> str:
        w = f"/{self.window}" if self.window > 1 else ""
        return f"{self.op}{w} x{self.count}"

    def with_formats(self, a=None, b=None, out=None):
        return replace(
            self,
            a_format=a or self.a_format,
            b_format=b or self.b_format,
            out_format=out or self.out_format,
        )


def einsum_dims(equation: str, a_shape, b_shape) -> Tuple[int, int, int, int]:
    """(batch, m, k, n) of a two-operand einsum: k multiplies the sizes of the indices summed
    over (in both operands, not in the output), batch those kept from both, m and n those of
    one operand only."""
    try:
        lhs, out = equation.replace(" ", "").split("->")
        a, b = lhs.split(",")
    except ValueError:
        raise InputError(
            f"einsum: expected 'ab,bc->ac' with two operands, found {equation!r}"
        ) from None
    sizes: Dict[str, int] = {}
    for letters, shape in ((a, a_shape), (b, b_shape)):
        if "." in letters or len(letters) != len(shape):
            raise InputError(f"einsum: {equation!r} does not match shapes {a_shape}, {b_shape}")
        sizes.update(zip(letters, (int(v) for v in shape)))

    def size(letters) -> int:
        return math.prod(sizes[c] for c in letters)

    both = set(a) & set(b)
    return (
        size(both & set(out)),
        size(set(a) - set(b)),
        size(both - set(out)),
        size(set(b) - set(a)),
    )
