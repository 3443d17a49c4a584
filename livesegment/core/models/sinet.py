"""SINet (Park et al., "SINet: Extreme Lightweight Portrait Segmentation Networks with Spatial
Squeeze Modules and Information Blocking Decoder", 2019), for clovaai/ext_portrait_segmentation's
released person/background checkpoint (MIT).

Written from the paper and the reference code; module names follow the release so its state dict
loads strictly. Things worth knowing when reading it against the paper:

* The "squeeze" of a squeeze-excite block here has no sigmoid: the PReLU output scales the
  channels directly (so it is in the released weights).
* Both branches of a spatial-squeeze module read the same (shuffled) reduced features; a branch
  with ``pool > 1`` works at 1/pool resolution and comes back with corner-aligned bilinear
  upsampling (``nn.UpsamplingBilinear2d``), as the release does.
* The decoder's information blocking: where the coarse prediction is confident, the finer
  features are gated out (``1 - max softmax``).
* Input: the release normalises BGR 0..255 pixels (cv2's order) as ``(v - mean) / std / 255``
  with its dataset's statistics (``SINET_MEAN``/``SINET_STD`` in the zoo, not ImageNet's), and
  its first convolution expects BGR: :class:`SINet` takes RGB like every model here and flips
  the channels itself (one 3-channel copy; feeding RGB costs 2-20 % label agreement).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

BN_EPS = 1e-3
# (kernel, pool) of the two branches of each spatial-squeeze module: 2 at level 2, 8 at level 3.
LEVEL2_CONFIG = (((3, 1), (5, 1)), ((3, 1), (3, 1)))
LEVEL3_CONFIG = (((3, 1), (5, 1)), ((3, 1), (3, 1)), ((5, 1), (3, 2)), ((5, 2), (3, 4)),
                 ((3, 1), (3, 1)), ((5, 1), (5, 1)), ((3, 2), (3, 4)), ((3, 1), (5, 2)))


def _bn(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=BN_EPS)


def _upsample(x: torch.Tensor, factor: int) -> torch.Tensor:
    """``nn.UpsamplingBilinear2d``: bilinear with corners aligned."""
    return F.interpolate(x, scale_factor=factor, mode="bilinear", align_corners=True)


class CBR(nn.Module):
    """Convolution, batch norm, PReLU."""

    def __init__(self, n_in: int, n_out: int, kernel: int, stride: int = 1) -> None:
        super().__init__()
        self.conv = nn.Conv2d(n_in, n_out, kernel, stride, (kernel - 1) // 2, bias=False)
        self.bn = _bn(n_out)
        self.act = nn.PReLU(n_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.bn(self.conv(x)))


class BR(nn.Module):
    """Batch norm, PReLU."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.bn = _bn(channels)
        self.act = nn.PReLU(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.bn(x))


class Squeeze(nn.Module):
    """Channel attention from the global average, scaled by PReLU outputs (no sigmoid)."""

    def __init__(self, channels: int, divide: int) -> None:
        super().__init__()
        hidden = channels // divide
        layers: list[nn.Module] = [nn.Linear(channels, hidden), nn.PReLU(hidden)]
        if divide > 1:
            layers += [nn.Linear(hidden, channels), nn.PReLU(channels)]
        self.dense = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale = self.dense(x.mean((2, 3)))
        return x * scale[:, :, None, None]


class SESeparableCBR(nn.Module):
    """Strided depthwise conv, squeeze, pointwise conv, batch norm, PReLU: a downsampling step."""

    def __init__(self, n_in: int, n_out: int, divide: int) -> None:
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv2d(n_in, n_in, 3, 2, 1, groups=n_in, bias=False),
            Squeeze(n_in, divide),
            nn.Conv2d(n_in, n_out, 1, bias=False),
        )
        self.bn = _bn(n_out)
        self.act = nn.PReLU(n_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.bn(self.conv(x)))


class S2Block(nn.Module):
    """One branch: optional average pooling, depthwise kxk + BN, PReLU, pointwise, back up."""

    def __init__(self, n_in: int, n_out: int, kernel: int, pool: int) -> None:
        super().__init__()
        self.pool = pool
        self.conv = nn.Sequential(
            nn.Conv2d(n_in, n_in, kernel, 1, (kernel - 1) // 2, groups=n_in, bias=False),
            _bn(n_in),
        )
        self.act_conv1x1 = nn.Sequential(nn.PReLU(n_in), nn.Conv2d(n_in, n_out, 1, bias=False))
        self.bn = _bn(n_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.pool > 1:
            x = F.avg_pool2d(x, self.pool, self.pool)
        x = self.act_conv1x1(self.conv(x))
        if self.pool > 1:
            x = _upsample(x, self.pool)
        return self.bn(x)


class S2Module(nn.Module):
    """Spatial-squeeze module: grouped 1x1 reduce, channel shuffle, two branches, concat."""

    def __init__(self, n_in: int, n_out: int, config, add: bool = True) -> None:
        super().__init__()
        (k1, p1), (k2, p2) = config
        half = n_out // 2
        self.c1 = nn.Module()
        self.c1.conv = nn.Conv2d(n_in, half, 1, groups=2, bias=False)
        self.d1 = S2Block(half, n_out - half, k1, p1)
        self.d2 = S2Block(half, half, k2, p2)
        self.BR = BR(n_out)
        self.add = add

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        reduced = _channel_shuffle(self.c1.conv(x), 2)
        out = torch.cat([self.d1(reduced), self.d2(reduced)], 1)
        return self.BR(x + out if self.add else out)


def _channel_shuffle(x: torch.Tensor, groups: int) -> torch.Tensor:
    b, c, h, w = x.shape
    return x.view(b, groups, c // groups, h, w).transpose(1, 2).reshape(b, c, h, w)


class SINetEncoder(nn.Module):
    """Levels at 1/2, 1/4 and 1/8 of the input; ``classifier`` gives the coarse prediction."""

    def __init__(self, classes: int) -> None:
        super().__init__()
        dim1, dim2, dim3 = 16, 48, 96
        self.level1 = CBR(3, 12, 3, 2)
        self.level2_0 = SESeparableCBR(12, dim1, divide=1)
        self.level2 = nn.ModuleList(
            S2Module(dim1 if i == 0 else dim2, dim2, cfg, add=i > 0)
            for i, cfg in enumerate(LEVEL2_CONFIG))
        self.BR2 = BR(dim2 + dim1)
        self.level3_0 = SESeparableCBR(dim2 + dim1, dim2, divide=2)
        self.level3 = nn.ModuleList(
            S2Module(dim2 if i == 0 else dim3, dim3, cfg, add=i > 0)
            for i, cfg in enumerate(LEVEL3_CONFIG))
        self.BR3 = BR(dim3 + dim2)
        self.classifier = nn.Module()
        self.classifier.conv = nn.Conv2d(dim3 + dim2, classes, 1, bias=False)


class SINet(nn.Module):
    """Encoder plus information-blocking decoder; logits at the input's resolution.

    Input sides must be multiples of 32 (the 1/8 features are pooled by 4 and brought back).
    """

    def __init__(self, classes: int = 2) -> None:
        super().__init__()
        self.encoder = SINetEncoder(classes)
        self.bn_3 = _bn(classes)
        self.level2_C = CBR(48, classes, 1, 1)
        self.bn_2 = _bn(classes)
        self.classifier = nn.Sequential(nn.UpsamplingBilinear2d(scale_factor=2),
                                        nn.Conv2d(classes, classes, 3, 1, 1, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x``: normalised RGB, like every model here; the release was trained on BGR."""
        enc = self.encoder
        out2_0 = enc.level2_0(enc.level1(x.flip(1)))               # 1/4
        out2 = out2_0
        for layer in enc.level2:
            out2 = layer(out2)
        out3_0 = enc.level3_0(enc.BR2(torch.cat([out2_0, out2], 1)))  # 1/8
        out3 = out3_0
        for layer in enc.level3:
            out3 = layer(out3)
        coarse = enc.classifier.conv(enc.BR3(torch.cat([out3_0, out3], 1)))

        stage1 = self.bn_3(_upsample(coarse, 2))                    # 1/4
        gate = 1 - stage1.softmax(1).amax(1, keepdim=True)           # blocks confident pixels
        stage2 = self.bn_2(_upsample(self.level2_C(out2) * gate + stage1, 2))  # 1/2
        return self.classifier(stage2)


def build_sinet(num_classes: int) -> SINet:
    return SINet(num_classes)
