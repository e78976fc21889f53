// 8x8 signed MAC: registered operands, 24-bit accumulator, synchronous clear (clr at
// cycle t loads the product of the operands of cycle t - 1 instead of adding it)
module smac8(input clk, input clr, input signed [7:0] a, input signed [7:0] b,
            output reg signed [23:0] acc);
  reg signed [7:0] ar, br;
  always @(posedge clk) begin
    ar <= a;
    br <= b;
    if (clr) acc <= ar * br;
    else acc <= acc + ar * br;
  end
endmodule
