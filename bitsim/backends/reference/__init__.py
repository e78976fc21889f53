"""Pure-numpy references of every compiled kernel: slow, plain, and the tests' oracle."""
