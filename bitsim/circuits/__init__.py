"""Gate-level circuits: netlists, multiplier and MAC generators, Yosys netlist import."""
