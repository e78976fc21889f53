// 4x4 unsigned MAC: registered operands, 16-bit accumulator, synchronous clear (clr at
// cycle t loads the product of the operands of cycle t - 1 instead of adding it)
module umac4(input clk, input clr, input [3:0] a, input [3:0] b,
            output reg [15:0] acc);
  reg [3:0] ar, br;
  always @(posedge clk) begin
    ar <= a;
    br <= b;
    if (clr) acc <= ar * br;
    else acc <= acc + ar * br;
  end
endmodule
