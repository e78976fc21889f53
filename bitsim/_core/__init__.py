"""Foundations every layer above uses: input checks, width arithmetic, the counter-based random
streams' mixing function, the segment/merge protocol of split runs and progress reporting.
Pure Python; imports nothing else from bitsim."""
