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


def core_library():
    """csrc/ compiled once, as a static library every extension links."""
    return ("bitsim_core", {"sources": sorted(glob("csrc/*.c")), "include_dirs": ["csrc"],
                            "cflags": c_flags() + ["-fPIC"], "obj_deps": {"": glob("csrc/*.h")}})


def extension(name):
    import numpy

    return Extension(
        f"bitsim._ext.{name}",
        sources=[f"bitsim/_ext/{name}.pyx"],
        depends=glob("csrc/*.h") + glob("bitsim/_ext/*.pxd"),
        include_dirs=["csrc", numpy.get_include()],
        libraries=["bitsim_core"],
        extra_compile_args=c_flags(),
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
    )


def extensions():
    from Cython.Build import cythonize

    return cythonize([extension("_mac"), extension("_gates"), extension("_seqgates"),
                      extension("_timing")],
                     compiler_directives={"language_level": 3})


setup(libraries=[core_library()], ext_modules=extensions())
