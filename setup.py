"""Build of bitsim's compiled core: csrc/ (plain C99 + GCC/Clang extensions) behind Cython.

Build knobs (environment variables):
  BITSIM_OPT   optimisation flag for the C kernels (default -O3); CFLAGS are honoured as usual.
Instruction sets (AVX2, AVX-512) are chosen at run time, never with -march=native.
"""
import os
from glob import glob

from setuptools import Extension, setup


def c_flags():
    return [os.environ.get("BITSIM_OPT", "-O3"), "-std=gnu99", "-fno-strict-aliasing"]


def mac_extension():
    import numpy

    return Extension(
        "bitsim._mac",
        sources=["bitsim/_mac.pyx", "csrc/mac.c"],
        depends=glob("csrc/*.h") + glob("bitsim/_c_*.pxd"),
        include_dirs=["csrc", numpy.get_include()],
        extra_compile_args=c_flags(),
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
    )


def gates_extension():
    import numpy

    return Extension(
        "bitsim._gates",
        sources=["bitsim/_gates.pyx", "csrc/gates.c", "csrc/mac.c"],
        depends=glob("csrc/*.h") + glob("bitsim/_c_*.pxd") + ["bitsim/_mac.pxd"],
        include_dirs=["csrc", numpy.get_include()],
        extra_compile_args=c_flags(),
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
    )


def extensions():
    from Cython.Build import cythonize

    return cythonize([mac_extension(), gates_extension()],
                     compiler_directives={"language_level": 3})


setup(ext_modules=extensions())
