"""Whole networks: the built-in zoo (``zoo``), PyTorch import (``pytorch``) and per-layer
reports (``report``)."""
