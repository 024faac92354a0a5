"""Synthetic "shapes" images: each class is a different texture, plus noise.

Every sample is generated from its index with a private generator, so the
dataset is identical across runs, workers and machines.
"""

import math

import torch
from torch.utils.data import Dataset

CLASSES = ("h-stripes", "v-stripes", "checker", "blob")

# per-channel normalisation, as for real image datasets
MEAN = (0.5, 0.5, 0.5)
STD = (0.25, 0.25, 0.25)


def _pattern(label, size, phase):
    ys = torch.arange(size, dtype=torch.float32).view(-1, 1).expand(size, size)
    xs = torch.arange(size, dtype=torch.float32).view(1, -1).expand(size, size)
    if label == 0:
        img = torch.sin(ys * math.pi / 2 + phase)
    elif label == 1:
        img = torch.sin(xs * math.pi / 2 + phase)
    elif label == 2:
        img = torch.sign(torch.sin(xs * math.pi / 3 + phase) * torch.sin(ys * math.pi / 3 + phase))
    else:
        c = size / 2 + 2 * math.sin(phase)
        img = torch.exp(-((xs - c) ** 2 + (ys - c) ** 2) / (size * 1.5)) * 2 - 1
    return img * 0.5 + 0.5


class SyntheticShapes(Dataset):
    def __init__(self, num_samples=512, image_size=16, noise=1.0, seed=0):
        self.num_samples = num_samples
        self.image_size = image_size
        self.noise = noise
        self.seed = seed
        self.mean = torch.tensor(MEAN).view(3, 1, 1)
        self.std = torch.tensor(STD).view(3, 1, 1)

    def __len__(self):
        return self.num_samples

    def __getitem__(self, idx):
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + idx)
        label = int(torch.randint(len(CLASSES), (1,), generator=g))
        phase = float(torch.rand(1, generator=g)) * 2 * math.pi
        base = _pattern(label, self.image_size, phase)
        tint = torch.rand(3, 1, 1, generator=g) * 0.5 + 0.5
        img = base.unsqueeze(0) * tint
        img = img + self.noise * torch.randn(3, self.image_size, self.image_size, generator=g)
        img = (img - self.mean) / self.std
        return img, label


def materialize(dataset):
    """Stack a whole (small) dataset into two tensors, e.g. for a fixed validation set."""
    images, labels = zip(*(dataset[i] for i in range(len(dataset))))
    return torch.stack(images), torch.tensor(labels)
