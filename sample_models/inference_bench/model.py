import math

import torch
import torch.nn as nn


class TinyEncoder(nn.Module):
    """A small BERT-like encoder with a classification head."""

    def __init__(self, vocab_size=1000, d_model=128, n_heads=4, n_layers=2, max_len=256, num_classes=8):
        super().__init__()
        self.tok = nn.Embedding(vocab_size, d_model)
        self.pos = nn.Embedding(max_len, d_model)
        layer = nn.TransformerEncoderLayer(
            d_model, n_heads, dim_feedforward=4 * d_model, dropout=0.0,
            activation="gelu", batch_first=True, norm_first=True,
        )
        self.encoder = nn.TransformerEncoder(layer, n_layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, num_classes)
        self.scale = math.sqrt(d_model)

    def forward(self, ids):
        pos = torch.arange(ids.size(1), device=ids.device)
        h = self.tok(ids) * self.scale + self.pos(pos)
        h = self.encoder(h)
        return self.head(self.norm(h.mean(dim=1)))
