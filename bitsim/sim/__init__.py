"""Simulation API: operand formats, distributions and streams; register-level MAC bit flips
(``mac``), accumulator widths (``accwidth``) and gate-level toggles (``gates``)."""
