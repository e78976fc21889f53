"""Dataflow: a layer mapped onto a systolic array (mapping), the operand streams its processing
elements see (streams), their simulated bit flips (simulate) and methods that cut them
(methods)."""
