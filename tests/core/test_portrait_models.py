"""The bundled portrait models (issue 15): registry, strict loading, parity with the originals'
saved outputs on real frames, the fixed-shape input, ONNX Runtime and the frozen CPU graph."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from livesegment.core.frames import Frame
from livesegment.core.masks.preprocess import to_model_input
from livesegment.core.segmenter import Segmenter
from livesegment.core.models.tflite_graph import _same_padding, load_tflite_person_model
from livesegment.core.models.zoo import (DEFAULT_PORTRAIT_MODEL, REGISTRY, get_spec, load_model,
                                  read_state_dict)
from livesegment.errors import WeightsError
from tests.conftest import REFERENCE, SHARED

HEAD_GIF = SHARED / "media" / "head-pose-face-detection-female-and-male.gif"
needs_gif = pytest.mark.skipif(not HEAD_GIF.is_file(), reason="../shared/media not present")
SELFIE = ["mediapipe-selfie", "mediapipe-selfie-landscape"]


@pytest.mark.parametrize(("name", "fixed", "mean", "std", "licence"), [
    ("mediapipe-selfie", (256, 256), (0, 0, 0), (1, 1, 1), "Apache-2.0"),
    ("mediapipe-selfie-landscape", (144, 256), (0, 0, 0), (1, 1, 1), "Apache-2.0"),
    ("sinet-portrait", None, (0.519, 0.454, 0.421), (68.297, 65.134, 63.972), "MIT"),
])
def test_registry_entries(name, fixed, mean, std, licence):
    spec = get_spec(name)
    assert spec.categories == ("background", "person") and spec.background == 0
    assert spec.palette.shape == (2, 3) and tuple(spec.palette[1]) == (192, 128, 128)
    assert spec.fixed_input == fixed
    assert np.allclose(spec.mean, mean, atol=1e-3) and np.allclose(spec.std, std, atol=1e-3)
    assert spec.licence.startswith(licence) and spec.weights.status() == "bundled"
    assert spec.weights.path().is_file()
    licence_file = "LICENSE-mediapipe" if fixed else "LICENSE-ext_portrait_segmentation"
    assert (spec.weights.path().parent / licence_file).is_file()


def test_default_portrait_model_is_registered():
    assert get_spec(DEFAULT_PORTRAIT_MODEL).categories == ("background", "person")


def test_sinet_checkpoint_loads_strictly():
    spec = get_spec("sinet-portrait")
    model = load_model(spec)
    state = read_state_dict(spec.weights.path())
    assert set(model.state_dict()) == set(state)  # every key used, none invented
    assert sum(p.numel() for p in model.parameters()) == 86_910  # "0.09 M" (paper)


def test_sinet_refuses_a_checkpoint_of_another_network(tmp_path):
    state = read_state_dict(get_spec("sinet-portrait").weights.path())
    state.pop("classifier.1.weight")
    path = tmp_path / "short.pth"
    torch.save(state, path)
    with pytest.raises(WeightsError, match="does not fit model sinet-portrait.*1 missing"):
        load_model(get_spec("sinet-portrait"), path)


@pytest.mark.parametrize("name", SELFIE)
def test_selfie_graph_has_the_published_parameter_count(name):
    model = load_model(get_spec(name))
    assert sum(p.numel() for p in model.parameters()) == 106_401  # model card / shared README
    assert model(torch.zeros(1, 3, *get_spec(name).fixed_input)).shape == (
        1, 2, *get_spec(name).fixed_input)


def test_tflite_of_another_size_is_refused():
    general = get_spec("mediapipe-selfie").weights.path()
    with pytest.raises(WeightsError, match="takes 256x256 input, this model needs 144x256"):
        load_tflite_person_model(general, (144, 256))


@pytest.mark.parametrize(("payload", "message"), [
    (b"", "is not a usable TFLite model"),
    (bytes(range(256)) * 8, "is not a usable TFLite model"),
    (None, "weights file not found"),
])
def test_bad_tflite_files_get_one_line_errors(tmp_path, payload, message):
    path = tmp_path / "bad.tflite"
    if payload is not None:
        path.write_bytes(payload)
    with pytest.raises(WeightsError, match=message) as err:
        load_model(get_spec("mediapipe-selfie"), path)
    assert "\n" not in str(err.value) and str(path) in str(err.value)


@pytest.mark.parametrize(("in_hw", "out_hw", "kernel", "stride", "expected"), [
    ((256, 256), (128, 128), (3, 3), (2, 2), (0, 1, 0, 1)),   # odd pixel after, not before
    ((144, 256), (72, 128), (3, 3), (2, 2), (0, 1, 0, 1)),
    ((32, 32), (16, 16), (5, 5), (2, 2), (1, 2, 1, 2)),
    ((16, 16), (16, 16), (5, 5), (1, 1), (2, 2, 2, 2)),      # stride 1: symmetric, like torch
    ((9, 16), (9, 16), (3, 3), (1, 1), (1, 1, 1, 1)),
])
def test_tflite_same_padding(in_hw, out_hw, kernel, stride, expected):
    assert _same_padding(in_hw, out_hw, kernel, stride, (1, 1)) == expected


def _gif_frame(index: int) -> np.ndarray:
    import av

    with av.open(str(HEAD_GIF)) as c:
        for i, f in enumerate(c.decode(video=0)):
            if i == index:
                return f.to_ndarray(format="rgb24")
    raise AssertionError(index)


def _person_probability(name: str, rgb: np.ndarray) -> np.ndarray:
    """Our network on the model-sized picture, resized as benchmarks/parity_portrait.py does."""
    spec = get_spec(name)
    hw = spec.fixed_input or (224, 384)
    small = cv2.resize(rgb, (hw[1], hw[0]), interpolation=cv2.INTER_AREA)
    x = torch.from_numpy(small).permute(2, 0, 1)[None].float() / 255
    x = (x - torch.tensor(spec.mean).view(1, 3, 1, 1)) / torch.tensor(spec.std).view(1, 3, 1, 1)
    with torch.inference_mode():
        return torch.softmax(load_model(spec)(x), 1)[0, 1].numpy()


@needs_gif
@pytest.mark.parametrize("name", [*SELFIE, "sinet-portrait"])
@pytest.mark.parametrize("frame", [0, 28])
def test_matches_the_originals_saved_outputs(name, frame):
    """References: mediapipe 0.10.14's selfie_segmentation and clovaai's own SINet code on the
    same pictures, stored as 8-bit probabilities. Measured max |dp| 2.6e-5 (selfie) and 2e-6
    (SINet) before quantisation; the tolerance is the 8-bit step plus that."""
    ours = _person_probability(name, _gif_frame(frame))
    theirs = cv2.imread(str(REFERENCE / f"{name}_gif{frame:03d}.png"),
                        cv2.IMREAD_UNCHANGED).astype(np.float32) / 255
    assert ours.shape == theirs.shape
    assert float(np.abs(ours - theirs).max()) < 0.5 / 255 + 1e-4
    assert 0.35 < float((ours > 0.5).mean()) < 0.45  # two people fill ~40 % of this framing


@needs_gif
def test_selfie_segmenter_on_a_small_frame_squashes_to_the_model_shape():
    """The product path: any frame goes to exactly 256x256 (as MediaPipe does), labels come
    back at the frame's size, the two people are found."""
    rgb = cv2.resize(_gif_frame(0), (160, 90), interpolation=cv2.INTER_AREA)
    seg = Segmenter.create("mediapipe-selfie", "cpu")
    assert seg.input_size(90, 160) == (256, 256) and seg.input_size(720, 1280) == (256, 256)
    out = seg.process(Frame(0, 0.0, np.ascontiguousarray(rgb[:, :, ::-1])),
                      seg.default_style())
    assert out.labels.shape == (90, 160) and set(np.unique(out.labels)) == {0, 1}
    assert 0.35 < float((out.labels == 1).mean()) < 0.45
    # Above the shoulders, the plain wall at the top corners is background.
    assert out.labels[:10, :10].max() == 0 and out.labels[:10, -10:].max() == 0


@pytest.mark.parametrize("name", [*SELFIE, "sinet-portrait"])
def test_frozen_cpu_graph_builds_for_portrait_models(name):
    seg = Segmenter.create(name, "cpu")
    shape = (1, 3, *seg.input_size(90, 160))
    assert seg.model.prepare(shape)  # a checked graph, not a silent eager fallback


@pytest.mark.parametrize("name", [
    "mediapipe-selfie",
    pytest.param("mediapipe-selfie-landscape", marks=pytest.mark.slow),
    pytest.param("sinet-portrait", marks=pytest.mark.slow),
])
def test_onnxruntime_backend_matches_torch(tmp_path, monkeypatch, name):
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    rng = np.random.default_rng(3)
    bgr = rng.integers(0, 255, (90, 160, 3), np.uint8)
    bgr[20:80, 50:110] = (90, 120, 200)
    torch_seg = Segmenter.create(name, "cpu")
    ort_seg = Segmenter.create(name, "cpu", backend="onnxruntime")
    a = torch_seg.infer(Frame(0, 0.0, bgr)).logits
    b = ort_seg.infer(Frame(0, 0.0, bgr)).logits
    assert a.shape == b.shape and float((a - b).abs().max()) < 1e-2
    assert list((tmp_path / "livesegment" / "onnx").glob(f"{name}-*.onnx"))


def test_models_command_lists_the_portrait_models(capsys):
    from livesegment.cli import main

    assert main(["models"]) == 0
    out = capsys.readouterr().out
    for name in [*SELFIE, "sinet-portrait"]:
        line = next(row for row in out.splitlines() if row.startswith(name + " "))
        assert "bundled" in line and " 2 " in line
    assert set(REGISTRY) >= {*SELFIE, "sinet-portrait"}


@needs_gif
@pytest.mark.parametrize("name", [*SELFIE, "sinet-portrait"])
def test_half_precision_keeps_the_labels(name):
    """CUDA runs these in float16 (no GPU here: the same network in float16 on the CPU). Measured
    on GIF frames 0/10/20: >= 99.99 % of labels kept; large logits move by up to 3.9, far from
    the decision boundary."""
    spec = get_spec(name)
    hw = spec.fixed_input or (224, 384)
    rgb = _gif_frame(10)
    bgr = torch.from_numpy(np.ascontiguousarray(rgb[:, :, ::-1]))
    x = to_model_input(bgr, hw, spec.mean, spec.std, torch.float32)
    with torch.inference_mode():
        full = load_model(spec)(x)
        half = load_model(spec).half()(x.half()).float()
    assert float((full.argmax(1) == half.argmax(1)).float().mean()) >= 0.999


@pytest.mark.parametrize("size, ok", [(None, True), (144, True), (256, False)])
def test_size_does_not_apply_to_a_fixed_input_model(size, ok):
    from livesegment.core.segmenter import Segmenter
    from livesegment.errors import InputError

    if ok:
        assert Segmenter.create("mediapipe-selfie-landscape", "cpu", size).size == 144
    else:
        with pytest.raises(InputError, match="takes a fixed 256x144 input; --size does not"):
            Segmenter.create("mediapipe-selfie-landscape", "cpu", size)


def test_the_gui_offers_a_fixed_input_model_its_one_size(qtbot):
    from livesegment.gui.panels import ModelPanel

    panel = ModelPanel()
    qtbot.addWidget(panel)
    panel.fill_sizes(get_spec("mediapipe-selfie-landscape"), 512)
    assert panel.size_box.count() == 1 and panel.size() == 144
