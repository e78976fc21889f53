"""Small PyTorch models shared by the import, capture and ONNX tests."""

import torch
from torch import nn
from torch.nn import functional as F


class Small(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding="same", bias=True)
        self.bn = nn.BatchNorm2d(8)
        self.act = nn.ReLU6()
        self.pool = nn.MaxPool2d(2)
        self.dw = nn.Conv2d(8, 8, 3, stride=1, padding=1, groups=8, bias=False)
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.drop = nn.Dropout(0.5)
        self.fc = nn.Linear(8, 4)

    def forward(self, x):
        x = self.pool(self.act(self.bn(self.conv(x))))
        y = torch.relu(self.dw(x))
        x = torch.add(x, y) * 0.5
        return self.fc(self.drop(self.gap(x).flatten(1)))


class Attention(nn.Module):
    """Every way PyTorch writes a product of activations, and transformer elementwise ops."""

    def __init__(self):
        super().__init__()
        self.mha = nn.MultiheadAttention(16, 2, batch_first=True)
        self.ln = nn.LayerNorm(16)
        self.proj = nn.Linear(16, 16)
        self.act = nn.GELU()
        self.w = nn.Parameter(torch.randn(16, 8))

    def forward(self, x):
        a, _ = self.mha(x, x, x, need_weights=False)
        x = self.ln(x + a)
        q = self.proj(x).view(1, 10, 2, 8).transpose(1, 2)
        scores = (q @ q.transpose(-1, -2)).softmax(-1)
        o = torch.bmm(scores[0], q[0])
        e = torch.einsum("hqd,hkd->hqk", o, o)
        y = F.scaled_dot_product_attention(q, q, q)
        z = self.act(x) @ self.w
        return e.sum() + y.sum() + z.sum()
