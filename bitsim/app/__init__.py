"""Applications on top of the library: experiment sweeps (``sweep``) and plots (``plots``)."""
