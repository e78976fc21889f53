"""bitsim: what a quantized neural network costs in silicon, bit by bit."""
from bitsim.distributions import HalfNormal, Laplace, Normal, Uniform
from bitsim.mac import SITES, MacConfig, MacFlips, simulate_mac

__version__ = "0.1.0"

__all__ = ["HalfNormal", "Laplace", "MacConfig", "MacFlips", "Normal", "SITES", "Uniform",
           "simulate_mac", "simd_levels", "__version__"]


def simd_levels():
    """Instruction sets the compiled kernel can use on this CPU, best last."""
    from bitsim import _mac

    return [name for name in _mac.SIMD_LEVELS if _mac.simd_supported(name)]
