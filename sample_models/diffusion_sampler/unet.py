"""A very small UNet for 1-channel images, with sinusoidal timestep embeddings."""

import math

import torch as th
import torch.nn as nn
import torch.nn.functional as F


def timestep_embedding(timesteps, dim, max_period=10000):
    """Sinusoidal embeddings, as in guided-diffusion's nn.py."""
    half = dim // 2
    freqs = th.exp(
        -math.log(max_period) * th.arange(start=0, end=half, dtype=th.float32) / half
    ).to(device=timesteps.device)
    args = timesteps[:, None].float() * freqs[None]
    return th.cat([th.cos(args), th.sin(args)], dim=-1)


class ResBlock(nn.Module):
    def __init__(self, channels, emb_channels, out_channels=None):
        super().__init__()
        out_channels = out_channels or channels
        self.in_layers = nn.Sequential(
            nn.GroupNorm(8, channels), nn.SiLU(), nn.Conv2d(channels, out_channels, 3, padding=1))
        self.emb_layers = nn.Sequential(nn.SiLU(), nn.Linear(emb_channels, out_channels))
        self.out_layers = nn.Sequential(
            nn.GroupNorm(8, out_channels), nn.SiLU(), nn.Conv2d(out_channels, out_channels, 3, padding=1))
        self.skip = nn.Identity() if out_channels == channels else nn.Conv2d(channels, out_channels, 1)

    def forward(self, x, emb):
        h = self.in_layers(x)
        h = h + self.emb_layers(emb)[..., None, None]
        h = self.out_layers(h)
        return self.skip(x) + h


class TinyUNet(nn.Module):
    def __init__(self, in_channels=1, model_channels=32, out_channels=1):
        super().__init__()
        ch = model_channels
        self.model_channels = ch
        self.time_embed = nn.Sequential(nn.Linear(ch, 4 * ch), nn.SiLU(), nn.Linear(4 * ch, 4 * ch))
        self.inp = nn.Conv2d(in_channels, ch, 3, padding=1)
        self.down1 = ResBlock(ch, 4 * ch)
        self.downsample = nn.Conv2d(ch, 2 * ch, 3, stride=2, padding=1)
        self.mid = ResBlock(2 * ch, 4 * ch)
        self.upsample = nn.ConvTranspose2d(2 * ch, ch, 4, stride=2, padding=1)
        self.up1 = ResBlock(2 * ch, 4 * ch, ch)
        self.out = nn.Sequential(nn.GroupNorm(8, ch), nn.SiLU(), nn.Conv2d(ch, out_channels, 3, padding=1))

    def forward(self, x, timesteps):
        emb = self.time_embed(timestep_embedding(timesteps, self.model_channels))
        h0 = self.down1(self.inp(x), emb)
        h = self.mid(self.downsample(h0), emb)
        h = self.up1(th.cat([self.upsample(h), h0], dim=1), emb)
        return self.out(h)
