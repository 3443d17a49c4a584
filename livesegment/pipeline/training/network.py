"""The network a run trains: its base model with a new classifier for the user's classes."""

from __future__ import annotations

from collections.abc import Mapping

import torch

from livesegment.core.models.espnetv2 import ESPNetv2, classifier
from livesegment.core.models.zoo import ModelSpec, load_model
from livesegment.errors import InputError


def finetune_network(base: ModelSpec, num_classes: int, rows: Mapping[int, int], seed: int
                     ) -> tuple[ESPNetv2, int]:
    """``base``'s network and weights for ``num_classes`` classes, and its decoder width.

    The decoder keeps the base's width, so every weight but the last 1x1 convolution
    transfers; that classifier starts small and random (from ``seed``), except ``rows``
    (new class id -> base class id), which start as the base's own. A plain fine-tune copies
    the background (pictures are mostly background: the first steps then learn the new
    classes, not what "nothing" looks like); keeping the base's classes copies all of them,
    so they work from the first step.
    """
    trained = load_model(base)
    if not isinstance(trained, ESPNetv2):
        raise InputError(f"training starts from an ESPNetv2 model, and {base.name} is not one "
                         "(use espnetv2-voc, espnetv2-cityscapes or a model trained here)")
    projection = classifier(trained).in_channels
    model = ESPNetv2(num_classes, projection)
    head = next(name for name, module in model.named_modules()
                if module is classifier(model))
    kept = {k: v for k, v in trained.state_dict().items() if not k.startswith(head + ".")}
    missing, unexpected = model.load_state_dict(kept, strict=False)
    assert not unexpected and all(k.startswith(head + ".") for k in missing), missing
    new, old = classifier(model), classifier(trained)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        new.weight.copy_(torch.randn(new.weight.shape, generator=generator) * 0.01)
        new.bias.zero_()
        for row, base_row in rows.items():
            new.weight[row] = old.weight[base_row]
            new.bias[row] = old.bias[base_row]
    return model, projection
