"""The Python API on the bundled model and sample clip, and README's example run as it stands."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

import livesegment
from livesegment.io.sample import sample_clip

ROOT = Path(__file__).resolve().parents[1]
PERSON = 15  # VOC


@pytest.fixture(scope="module")
def model():
    return livesegment.load_model("espnetv2-voc", device="cpu")


@pytest.fixture(scope="module")
def frame_100() -> np.ndarray:
    frames = livesegment.read_frames(sample_clip())
    for i, bgr in enumerate(frames):
        if i == 100:
            frames.close()
            return bgr
    raise AssertionError("the sample has fewer than 101 frames")


def test_sample_clip_is_the_documented_real_footage():
    path = sample_clip()
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        assert (s.codec_context.width, s.codec_context.height) == (768, 432)
        assert s.frames == 300 and s.average_rate == 10
    assert 0.8e6 < path.stat().st_size < 1.6e6
    notice = (path.parent / "NOTICE").read_text()
    assert "Intel Corporation" in notice and "CC BY 4.0" in notice and "re-encoded" in notice
    assert "Attribution 4.0 International" in (path.parent / "LICENSE").read_text()


def test_importing_livesegment_does_not_import_torch():
    code = "import sys, livesegment; print('torch' in sys.modules, livesegment.__version__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["False", livesegment.__version__]


def test_segment_finds_the_person_at_the_table(model, frame_100):
    labels = livesegment.segment(model, frame_100)
    assert labels.shape == (432, 768) and labels.dtype == np.uint8
    person = labels == PERSON
    assert 0.05 < person.mean() < 0.2
    ys, xs = np.nonzero(person)
    # The person stands in the middle third of the picture, at the table (see the sample).
    assert 768 / 3 < xs.mean() < 2 * 768 / 3


def test_overlay_paints_only_the_chosen_class(model, frame_100):
    labels = livesegment.segment(model, frame_100)
    painted = livesegment.overlay(frame_100, labels, model, classes=["person"], opacity=0.6)
    changed = (painted != frame_100).any(axis=2)
    assert not changed[labels != PERSON].any()
    assert changed[labels == PERSON].mean() > 0.95
    by_id = livesegment.overlay(frame_100, labels, model, classes=[PERSON], opacity=0.6)
    assert np.array_equal(by_id, painted)


@pytest.mark.parametrize("bad, message", [
    (np.zeros((4, 4), np.uint8), "HxWx3 uint8"),
    (np.zeros((4, 4, 3), np.float32), "HxWx3 uint8"),
])
def test_segment_refuses_what_is_not_a_bgr_picture(model, bad, message):
    with pytest.raises(ValueError, match=message):
        livesegment.segment(model, bad)


def test_overlay_refuses_labels_of_another_size(model, frame_100):
    with pytest.raises(ValueError, match="do not match"):
        livesegment.overlay(frame_100, np.zeros((10, 10), np.uint8), model)


def test_models_lists_the_registry():
    names = livesegment.models()
    assert names[0] == "espnetv2-voc" and "espnetv2-cityscapes" in names


def test_readme_python_example_runs_as_it_stands(tmp_path):
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", readme, re.S)
    assert len(blocks) == 1
    proc = subprocess.run([sys.executable, "-c", blocks[0]], cwd=tmp_path, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    share = float(re.search(r"person: ([\d.]+)% of the picture", proc.stdout).group(1))
    assert 5 < share < 20
    assert "300 frames written to people-overlay.mp4" in proc.stdout
    overlay = cv2.imread(str(tmp_path / "person-overlay.png"))
    assert overlay.shape == (432, 768, 3)
    with av.open(str(tmp_path / "people-overlay.mp4")) as c:
        assert sum(1 for _ in c.decode(video=0)) == 300


# The API gives a script what the command line gives a user (same labels, same smoothing).

def _frames(count: int) -> list[np.ndarray]:
    frames = livesegment.read_frames(sample_clip())
    picked = [bgr for _, bgr in zip(range(count), frames)]
    frames.close()
    return picked


def _cli_masks(tmp_path: Path, inputs: list[str], *options: str) -> list[np.ndarray]:
    from livesegment.cli import main

    tmp_path.mkdir(exist_ok=True)
    masks = tmp_path / "masks"
    out = tmp_path / ("out.png" if inputs[0].endswith(".png") else "out.mp4")
    assert main(["process", *inputs, "-o", str(out), "--masks", str(masks), "--quiet",
                 "--device", "cpu", *options]) == 0
    return [cv2.imread(str(p), cv2.IMREAD_UNCHANGED) for p in sorted(masks.glob("*.png"))]


def test_segment_gives_the_labels_process_writes_for_a_picture(model, frame_100, tmp_path):
    picture = tmp_path / "frame.png"
    cv2.imwrite(str(picture), frame_100)
    (cli,) = _cli_masks(tmp_path, [str(picture)])
    labels = livesegment.segment(model, frame_100)
    assert np.array_equal(labels, cli)
    unrefined = livesegment.segment(model, frame_100, refine=False)
    assert (unrefined != cli).any()  # refinement is on by default, as on the command line
    (cli_plain,) = _cli_masks(tmp_path / "plain", [str(picture)], "--no-refine")
    assert np.array_equal(unrefined, cli_plain)


def test_segment_frames_gives_the_labels_process_writes_for_a_video(model, tmp_path):
    cli = _cli_masks(tmp_path, [str(sample_clip())], "--duration", "1.2")
    assert len(cli) == 12  # 10 fps
    api = list(livesegment.segment_frames(model, _frames(12)))
    assert len(api) == 12
    for i, (a, c) in enumerate(zip(api, cli)):
        assert np.array_equal(a, c), f"frame {i}: {(a != c).mean():.4%} of pixels differ"
    still = list(livesegment.segment_frames(model, _frames(12), smoothing=0.0, refine=False))
    assert any((s != c).any() for s, c in zip(still, cli))


def test_video_segmenter_steadies_a_sequence_frame_by_frame(model):
    frames = _frames(20)
    video = livesegment.VideoSegmenter(model)
    steady = [video.segment(bgr) for bgr in frames]
    single = [livesegment.segment(model, bgr) for bgr in frames]
    assert np.array_equal(steady[0], single[0])  # nothing before the first frame to lean on

    def flips(seq):
        return sum(int((a != b).sum()) for a, b in zip(seq, seq[1:]))

    assert flips(steady) < 0.8 * flips(single)
    video.reset()
    assert np.array_equal(video.segment(frames[5]), single[5])


@pytest.mark.parametrize("call, kind, message", [
    (lambda m: livesegment.VideoSegmenter("espnetv2-voc"), TypeError, "model must be a Segmenter"),
    (lambda m: livesegment.VideoSegmenter(m, smoothing=1.5), ValueError, "smoothing must be"),
    (lambda m: list(livesegment.segment_frames(m, [], smoothing=-1)), ValueError, "smoothing"),
])
def test_sequence_helpers_name_a_wrong_argument(model, call, kind, message):
    with pytest.raises(kind, match=message):
        call(model)


def test_evaluate_scores_a_model_on_a_labelled_folder(tmp_path):
    from tests.conftest import fake_segmenter
    from tests.pipeline.test_validate import SIDE, person_dataset

    person_dataset(tmp_path, ("background", "human"))
    dataset = livesegment.read_dataset(tmp_path)
    assert dataset.classes == ("background", "human") and dataset.report.pictures == 2
    result = livesegment.evaluate(fake_segmenter(SIDE), tmp_path, class_map={"human": "person"})
    # the validator's crafted case: 512 of 2560 person pixels missed, nothing else wrong
    assert result.scores.iou[1] == pytest.approx(0.8)
    assert result.mapping.pairs == (("human", ("person",)),)
