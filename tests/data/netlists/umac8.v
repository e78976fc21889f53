// 8x8 unsigned MAC: registered operands, 24-bit accumulator, synchronous clear (clr at
// cycle t loads the product of the operands of cycle t - 1 instead of adding it)
module umac8(input clk, input clr, input [7:0] a, input [7:0] b,
            output reg [23:0] acc);
  reg [7:0] ar, br;
  always @(posedge clk) begin
    ar <= a;
    br <= b;
    if (clr) acc <= ar * br;
    else acc <= acc + ar * br;
  end
endmodule
