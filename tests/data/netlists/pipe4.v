// 4x4 unsigned multiplier with a registered product (one pipeline stage)
module pipe4(input clk, input [3:0] a, input [3:0] b, output reg [7:0] p);
  always @(posedge clk) p <= a * b;
endmodule
