"""The kernels behind every simulation, in three interchangeable backends: the compiled C kernels
(``bitsim._ext``), numba (``jit``) and plain numpy (``reference``, the tests' oracle).
``dispatch`` selects one and is the only module that imports compiled code, so the reference and
numba kernels import and run where the extension does not build."""
