"""Foundations every layer above uses: input checks, width arithmetic, the counter-based random
streams' mixing function, the interrupt flag and the worker threads of every long call, the
segment/merge protocol of split runs, progress reporting and users' files (atomic output,
safe YAML).
Pure Python; imports nothing else from bitsim."""
