"""Compiled kernels (Cython bindings of csrc/). Imported only by ``bitsim.backends.dispatch``."""
