"""The bundled models on real pictures: against the original release's outputs, and sanity on
photographs the project never sees (scikit-image's sample photos, loaded at test time)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from livesegment.core.frames import Frame
from livesegment.core.segmenter import Segmenter
from tests.conftest import FOOTAGE, PERSON, REFERENCE, needs_footage


def _footage_frames(indices: set[int]) -> dict[int, np.ndarray]:
    import av

    out = {}
    with av.open(str(FOOTAGE)) as c:
        for i, f in enumerate(c.decode(video=0)):
            if i in indices:
                out[i] = f.to_ndarray(format="bgr24")
            if i >= max(indices):
                break
    return out


def _labels(seg: Segmenter, bgr: np.ndarray) -> np.ndarray:
    return seg.process(Frame(0, 0.0, bgr), seg.default_style()).labels


@needs_footage()
@pytest.mark.parametrize(("model", "size", "minimum"), [
    ("espnetv2-voc", 256, 0.99),
    pytest.param("espnetv2-cityscapes", 512, 0.99, marks=pytest.mark.slow),
])
def test_agrees_with_the_original_release_on_real_footage(model, size, minimum):
    """References were made by sacmehta/EdgeNets' own code (PIL resize, its network, nearest
    upsampling of labels); ours differs only in resize rounding and bilinear logits."""
    seg = Segmenter.create(model, "cpu", size=size)
    frames = _footage_frames({0, 100} if model.endswith("cityscapes") else {0, 100, 200, 300})
    for index, bgr in frames.items():
        ref = cv2.imread(str(REFERENCE / f"{model}_{size}_walk{index:03d}.png"),
                         cv2.IMREAD_UNCHANGED)
        agreement = float((_labels(seg, bgr) == ref).mean())
        assert agreement >= minimum, f"frame {index}: {agreement:.4f}"


@needs_footage()
def test_people_dominate_the_shared_footage(voc_segmenter):
    """People walking on a grey floor: person is the main non-background class, 2-20 %."""
    for index, bgr in _footage_frames({10, 150, 290}).items():
        labels = _labels(voc_segmenter, bgr)
        share = np.bincount(labels.ravel(), minlength=21) / labels.size
        others = share.copy()
        others[[0, PERSON]] = 0
        assert 0.02 < share[PERSON] < 0.20, f"frame {index}: person {share[PERSON]:.3f}"
        assert share[PERSON] > 5 * others.max()


@pytest.mark.parametrize(("photo", "cls", "at_least"), [
    ("astronaut", "person", 0.30),   # a portrait: the person fills much of the frame
    ("chelsea", "cat", 0.60),        # a cat close up
])
def test_held_out_photographs(voc_segmenter, photo, cls, at_least):
    skdata = pytest.importorskip("skimage.data")
    rgb = getattr(skdata, photo)()
    labels = _labels(voc_segmenter, np.ascontiguousarray(rgb[:, :, ::-1]))
    share = np.bincount(labels.ravel(), minlength=21) / labels.size
    target = voc_segmenter.spec.class_id(cls)
    share[0] = 0
    assert int(np.argmax(share)) == target and share[target] >= at_least
