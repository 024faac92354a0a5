import torch.nn as nn


def conv_bn(cin, cout):
    return nn.Sequential(
        nn.Conv2d(cin, cout, kernel_size=3, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class SmallCNN(nn.Module):
    """A tiny VGG-ish network for 16x16 RGB inputs."""

    def __init__(self, num_classes=4, width=16):
        super().__init__()
        self.features = nn.Sequential(
            conv_bn(3, width),
            conv_bn(width, width),
            nn.MaxPool2d(2),  # 8x8
            conv_bn(width, 2 * width),
            nn.MaxPool2d(2),  # 4x4
            conv_bn(2 * width, 4 * width),
            nn.AdaptiveAvgPool2d(1),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Dropout(0.1),
            nn.Linear(4 * width, num_classes),
        )

    def forward(self, x):
        return self.classifier(self.features(x))
