"""ESPNetv2 semantic segmentation network (Mehta et al., CVPR 2019), written for livesegment.

The encoder stacks EESP units (reduce -> split into dilated depth-wise branches -> hierarchical
feature fusion -> merge) with input reinforcement: every down-sampling stage also sees the RGB
image pooled to its resolution. The decoder climbs back with efficient pyramid pooling (EPP)
blocks and gated skip connections.

Module names follow the original release (sacmehta/EdgeNets, MIT) exactly, so its checkpoints
load with a strict key match; that is why a few modules exist that the forward pass never uses
(``module_act`` of a down-sampling EESP).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

# Channel widths of the encoder levels for width multiplier s=2.0 (the released checkpoints).
ENCODER_WIDTHS = (32, 128, 256, 512)
EESP_REPEATS = {3: 3, 4: 7}
EESP_BRANCHES = 4
# Largest receptive field (kernel side) a branch may reach at each level; beyond it the branch
# falls back to a plain 3x3, which avoids gridding artefacts on small feature maps.
RECEPTIVE_LIMITS = (13, 11, 9, 7)
DECODER_WIDTH = 16
PYRAMID_SCALES = (2.0, 1.5, 1.0, 0.5, 0.1)


class ConvBN(nn.Module):
    """Convolution, batch norm and an optional PReLU, named ``conv``/``bn``/``act``."""

    def __init__(self, c_in: int, c_out: int, k: int, stride: int = 1, groups: int = 1,
                 dilation: int = 1, act: bool = True) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, k, stride, padding=(k - 1) // 2 * dilation,
                              dilation=dilation, groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(c_out)
        self.act = nn.PReLU(c_out) if act else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.bn(self.conv(x)))


class DepthwiseDilated(nn.Module):
    """A bare depth-wise 3x3 convolution with dilation (one EESP branch)."""

    def __init__(self, channels: int, stride: int, dilation: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, stride, padding=dilation,
                              dilation=dilation, groups=channels, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class BNAct(nn.Module):
    """Batch norm then PReLU, named ``bn``/``act``."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.bn = nn.BatchNorm2d(channels)
        self.act = nn.PReLU(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.bn(x))


def branch_dilations(branches: int, receptive_limit: int) -> list[int]:
    """Dilation of each EESP branch: kernels 3, 5, 7, ... capped at the limit, sorted."""
    sides = sorted(3 + 2 * i if 3 + 2 * i <= receptive_limit else 3 for i in range(branches))
    return [(side - 1) // 2 for side in sides]


class EESP(nn.Module):
    """Efficient Extremely-dilated Spatial Pyramid unit.

    With ``stride=2`` it is the learned half of a :class:`DownSampler` and returns the merged
    features before the residual and activation, which the down-sampler applies itself.
    """

    def __init__(self, c_in: int, c_out: int, stride: int = 1, branches: int = EESP_BRANCHES,
                 receptive_limit: int = 7) -> None:
        super().__init__()
        width = c_out // branches
        if width * branches != c_out:
            raise ValueError(f"EESP output {c_out} is not divisible by {branches} branches")
        self.stride = stride
        self.proj_1x1 = ConvBN(c_in, width, 1, groups=branches)
        self.spp_dw = nn.ModuleList(
            DepthwiseDilated(width, stride, d) for d in branch_dilations(branches, receptive_limit)
        )
        self.conv_1x1_exp = ConvBN(c_out, c_out, 1, groups=branches, act=False)
        self.br_after_cat = BNAct(c_out)
        self.module_act = nn.PReLU(c_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        reduced = self.proj_1x1(x)
        fused = [self.spp_dw[0](reduced)]
        for branch in self.spp_dw[1:]:
            # Hierarchical feature fusion: each branch adds the one before it.
            fused.append(branch(reduced) + fused[-1])
        merged = self.conv_1x1_exp(self.br_after_cat(torch.cat(fused, 1)))
        if self.stride == 2:
            return merged
        return self.module_act(merged + x)


class DownSampler(nn.Module):
    """Halves the resolution: average pooling beside a strided EESP, plus the pooled image."""

    def __init__(self, c_in: int, c_out: int, receptive_limit: int) -> None:
        super().__init__()
        self.eesp = EESP(c_in, c_out - c_in, stride=2, receptive_limit=receptive_limit)
        self.inp_reinf = nn.Sequential(ConvBN(3, 3, 3), ConvBN(3, c_out, 1, act=False))
        self.act = nn.PReLU(c_out)

    def forward(self, x: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
        pooled = F.avg_pool2d(x, 3, stride=2, padding=1)
        out = torch.cat([pooled, self.eesp(x)], 1)
        while image.shape[2] != pooled.shape[2]:
            image = F.avg_pool2d(image, 3, stride=2, padding=1)
        return self.act(out + self.inp_reinf(image))


class Encoder(nn.Module):
    """The ESPNetv2 backbone up to level 4 (1/16 resolution); level 5 is unused by segmentation."""

    def __init__(self) -> None:
        super().__init__()
        w1, w2, w3, w4 = ENCODER_WIDTHS
        self.level1 = ConvBN(3, w1, 3, stride=2)
        self.level2_0 = DownSampler(w1, w2, RECEPTIVE_LIMITS[0])
        self.level3_0 = DownSampler(w2, w3, RECEPTIVE_LIMITS[1])
        self.level3 = nn.ModuleList(
            EESP(w3, w3, receptive_limit=RECEPTIVE_LIMITS[2]) for _ in range(EESP_REPEATS[3])
        )
        self.level4_0 = DownSampler(w3, w4, RECEPTIVE_LIMITS[2])
        self.level4 = nn.ModuleList(
            EESP(w4, w4, receptive_limit=RECEPTIVE_LIMITS[3]) for _ in range(EESP_REPEATS[4])
        )

    def forward(self, image: torch.Tensor) -> list[torch.Tensor]:
        """Features at 1/2, 1/4, 1/8 and 1/16 of the input."""
        l1 = self.level1(image)
        l2 = self.level2_0(l1, image)
        l3 = self.level3_0(l2, image)
        for unit in self.level3:
            l3 = unit(l3)
        l4 = self.level4_0(l3, image)
        for unit in self.level4:
            l4 = unit(l4)
        return [l1, l2, l3, l4]


class ChannelShuffle(nn.Module):
    """Interleaves channel groups so the next grouped convolution mixes every pyramid scale."""

    def __init__(self, groups: int) -> None:
        super().__init__()
        self.groups = groups

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        return x.view(n, self.groups, c // self.groups, h, w).transpose(1, 2).reshape(n, c, h, w)


class DecoderConvBN(nn.Module):
    """Conv-BN-PReLU as the decoder's checkpoint names it (``cbr.0/1/2``)."""

    def __init__(self, c_in: int, c_out: int, k: int, groups: int = 1) -> None:
        super().__init__()
        self.cbr = nn.Sequential(
            nn.Conv2d(c_in, c_out, k, padding=(k - 1) // 2, groups=groups, bias=False),
            nn.BatchNorm2d(c_out),
            nn.PReLU(c_out),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.cbr(x)


class DecoderBNAct(nn.Module):
    """BN-PReLU as the decoder's checkpoint names it (``br.0/1``)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.br = nn.Sequential(nn.BatchNorm2d(channels), nn.PReLU(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.br(x)


class EfficientPyramidPool(nn.Module):
    """EPP: project, filter the map at five scales with depth-wise 3x3s, shuffle, merge."""

    def __init__(self, c_in: int, c_proj: int, c_out: int, last: bool = False) -> None:
        super().__init__()
        n = len(PYRAMID_SCALES)
        self.projection_layer = DecoderConvBN(c_in, c_proj, 1)
        self.stages = nn.ModuleList(
            nn.Conv2d(c_proj, c_proj, 3, padding=1, groups=c_proj, bias=False) for _ in range(n)
        )
        self.merge_layer = nn.Sequential(
            DecoderBNAct(c_proj * n),
            ChannelShuffle(n),
            DecoderConvBN(c_proj * n, c_proj, 3, groups=c_proj),
            nn.Conv2d(c_proj, c_out, 1, bias=last),
        )
        self.br = nn.Identity() if last else DecoderBNAct(c_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.projection_layer(x)
        h, w = x.shape[2:]
        levels = []
        for scale, stage in zip(PYRAMID_SCALES, self.stages):
            size = (max(5, math.ceil(h * scale)), max(5, math.ceil(w * scale)))
            if scale > 1.0:
                up = F.interpolate(x, size, mode="bilinear", align_corners=True)
                levels.append(F.adaptive_avg_pool2d(stage(up), (h, w)))
            elif scale < 1.0:
                down = stage(F.adaptive_avg_pool2d(x, size))
                levels.append(F.interpolate(down, (h, w), mode="bilinear", align_corners=True))
            else:
                levels.append(stage(x))
        return self.br(self.merge_layer(torch.cat(levels, 1)))


class GatedSkip(nn.Module):
    """Projects encoder features to decoder width, gated by a global-context sigmoid."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.wt_layer = nn.Sequential(
            nn.AdaptiveAvgPool2d(1), nn.Conv2d(c_in, c_out, 1, bias=False), nn.Sigmoid()
        )
        self.expansion_layer = DecoderConvBN(c_in, c_out, 3, groups=math.gcd(c_in, c_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.expansion_layer(x) * self.wt_layer(x)


def _bn_prelu(channels: int) -> nn.Sequential:
    return nn.Sequential(nn.BatchNorm2d(channels), nn.PReLU(channels))


def _up2(x: torch.Tensor) -> torch.Tensor:
    return F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=True)


class ESPNetv2(nn.Module):
    """ESPNetv2 segmentation (s=2.0).

    ``forward`` returns logits at half the input resolution: the original's last step, a
    bilinear upsample to the input size, is left to the caller, which upsamples once, straight
    to the frame's own resolution (see
    :func:`livesegment.core.masks.postprocess.labels_from_logits`).
    """

    def __init__(self, num_classes: int, projection: int | None = None) -> None:
        super().__init__()
        self.base_net = Encoder()
        d = DECODER_WIDTH
        dec = (4 * d, 3 * d, 2 * d)
        # The release ties the pyramid's projection width to the class count; a fine-tune keeps
        # its base's width (10 for VOC) so every decoder weight transfers, only the classifier not.
        proj = projection or decoder_projection(num_classes)
        _, w2, w3, w4 = ENCODER_WIDTHS
        self.bu_dec_l1 = EfficientPyramidPool(w4, proj, dec[0])
        self.bu_dec_l2 = EfficientPyramidPool(dec[0], proj, dec[1])
        self.bu_dec_l3 = EfficientPyramidPool(dec[1], proj, dec[2])
        self.bu_dec_l4 = EfficientPyramidPool(dec[2], proj, num_classes, last=True)
        self.merge_enc_dec_l2 = GatedSkip(w3, dec[0])
        self.merge_enc_dec_l3 = GatedSkip(w2, dec[1])
        self.merge_enc_dec_l4 = GatedSkip(ENCODER_WIDTHS[0], dec[2])
        self.bu_br_l2 = _bn_prelu(dec[0])
        self.bu_br_l3 = _bn_prelu(dec[1])
        self.bu_br_l4 = _bn_prelu(dec[2])

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        l1, l2, l3, l4 = self.base_net(image)
        x = self.bu_dec_l1(l4)
        x = self.bu_dec_l2(self.bu_br_l2(_up2(x) + self.merge_enc_dec_l2(l3)))
        x = self.bu_dec_l3(self.bu_br_l3(_up2(x) + self.merge_enc_dec_l3(l2)))
        return self.bu_dec_l4(self.bu_br_l4(_up2(x) + self.merge_enc_dec_l4(l1)))


def decoder_projection(num_classes: int) -> int:
    """The released decoder's pyramid projection width for ``num_classes`` classes."""
    return min(num_classes // 2, DECODER_WIDTH)


def classifier(model: ESPNetv2) -> nn.Conv2d:
    """The last 1x1 convolution: the only layer whose shape depends on the class count."""
    return model.bu_dec_l4.merge_layer[3]


def fold_batch_norms(model: nn.Module) -> nn.Module:
    """Folds every eval-mode BatchNorm that directly follows a convolution into that
    convolution's weights and bias (same outputs, one op fewer per block). In place."""
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    for module in model.modules():
        if isinstance(module, ConvBN) and isinstance(module.bn, nn.BatchNorm2d):
            module.conv = fuse_conv_bn_eval(module.conv, module.bn)
            module.bn = nn.Identity()
        elif isinstance(module, DecoderConvBN) and isinstance(module.cbr[1], nn.BatchNorm2d):
            module.cbr[0] = fuse_conv_bn_eval(module.cbr[0], module.cbr[1])
            module.cbr[1] = nn.Identity()
    return model
