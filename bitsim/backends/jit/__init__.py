"""numba JIT backends: the second implementation of every kernel, tested for parity."""
