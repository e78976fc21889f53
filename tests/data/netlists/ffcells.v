// Flip-flops with enable, synchronous reset and set, asynchronous reset (Yosys maps them to
// $_DFFE_*, $_SDFF_*, $_SDFFE_*, $_SDFFCE_*, $_DFF_PN0_, ... cells)
module ffcells(input clk, input rst_n, input srst, input sset, input en, input [3:0] d,
               output reg [3:0] q_en, output reg [3:0] q_srst, output reg [3:0] q_sset,
               output reg [3:0] q_srst_en, output reg [3:0] q_en_srst, output reg [3:0] q_arst,
               output reg [3:0] q_arst_en, output reg [3:0] q_cnt);
  always @(posedge clk) if (en) q_en <= d ^ q_en;
  always @(posedge clk) if (srst) q_srst <= 0; else q_srst <= d + q_srst;
  always @(posedge clk) if (sset) q_sset <= 4'hf; else q_sset <= d & ~q_sset;
  always @(posedge clk) if (srst) q_srst_en <= 4'h5; else if (en) q_srst_en <= d - q_srst_en;
  always @(posedge clk) if (en) begin if (srst) q_en_srst <= 0; else q_en_srst <= d | q_en; end
  always @(posedge clk or negedge rst_n) if (!rst_n) q_arst <= 0; else q_arst <= q_arst + d;
  always @(posedge clk or negedge rst_n)
    if (!rst_n) q_arst_en <= 4'ha; else if (en) q_arst_en <= q_arst_en ^ d;
  always @(posedge clk) q_cnt <= q_cnt + 1;
endmodule
