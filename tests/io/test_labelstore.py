"""The label store: a folder the dataset reader reads as it is, names and colours included,
with COCO beside it, drafts, and nothing lost or overwritten whatever happens."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from livesegment.errors import InputError, OutputError
from livesegment.io.datasets import open_dataset
from livesegment.io.datasets.labelfiles import coded, decode_rle
from livesegment.io.datasets.labelstore import FrameStatus, LabelClass, LabelStore
from tests.conftest import make_clip

ROOT = Path(__file__).resolve().parents[2]
CLASSES = (LabelClass("background", (0, 0, 0)), LabelClass("cat", (200, 30, 30)),
           LabelClass("dog", (20, 180, 40)))


def pictures(folder: Path, count: int = 3, size: tuple[int, int] = (24, 32)) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        rng = np.random.default_rng(i)
        cv2.imwrite(str(folder / f"p{i}.png"), rng.integers(0, 256, (*size, 3), np.uint8))
    return folder


def ring(size: tuple[int, int] = (24, 32)) -> np.ndarray:
    """A cat (1) with a hole, a dog (2) beside it: what polygons would get wrong."""
    labels = np.zeros(size, np.uint8)
    labels[2:14, 2:14] = 1
    labels[6:10, 6:10] = 0  # the hole
    labels[16:22, 18:30] = 2
    return labels


def digest(folder: Path) -> dict[str, tuple[str, int]]:
    return {p.name: (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
            for p in folder.iterdir() if p.is_file()}


@pytest.fixture
def store(tmp_path) -> LabelStore:
    return LabelStore.create(tmp_path / "labels", pictures(tmp_path / "pics"), CLASSES)


def test_pictures_are_copied_and_the_users_files_left_alone(tmp_path):
    source = pictures(tmp_path / "pics")
    before = digest(source)
    store = LabelStore.create(tmp_path / "labels", source, CLASSES)
    assert store.keys() == ["p0.png", "p1.png", "p2.png"] and not store.is_video()
    for key in store.keys():
        assert (store.folder / "images" / key).read_bytes() == (source / key).read_bytes()
        assert np.array_equal(store.picture(key), cv2.imread(str(source / key)))
        assert store.labels(key) is None and store.status(key) is None
    assert digest(source) == before


def test_the_reader_reads_labels_names_and_colours_and_skips_unlabelled(store):
    store.save_labels("p1.png", ring())
    dataset = open_dataset(store.folder)  # strict: no problem in the report
    assert dataset.classes == ("background", "cat", "dog")
    assert dataset.colours == ((0, 0, 0), (200, 30, 30), (20, 180, 40))
    assert len(dataset) == 1 and np.array_equal(dataset[0].labels, ring())
    assert np.array_equal(dataset[0].image, store.picture("p1.png"))
    report = dataset.report
    assert report.images_without_labels == ("images/p0.png", "images/p2.png")
    assert report.class_pixels == (np.count_nonzero(ring() == 0), 12 * 12 - 16, 6 * 12)
    lines = report.lines()
    assert sum("without labels" in line for line in lines) == 1 and len(lines) == 3


def test_coco_copy_decodes_to_the_exact_masks_holes_included(store):
    store.save_labels("p0.png", ring())
    store.save_labels("p2.png", np.where(ring() == 1, 2, 0).astype(np.uint8))
    doc = json.loads((store.folder / "annotations.json").read_text())
    assert [i["file_name"] for i in doc["images"]] == ["images/p0.png", "images/p2.png"]
    assert [(c["id"], c["name"], c["color"]) for c in doc["categories"]] == [
        (1, "cat", "#c81e1e"), (2, "dog", "#14b428")]
    first = [a for a in doc["annotations"] if a["image_id"] == doc["images"][0]["id"]]
    cat = decode_rle(first[0]["segmentation"])
    assert first[0]["category_id"] == 1 and np.array_equal(cat, ring() == 1)
    assert not cat[8, 8] and first[0]["area"] == 12 * 12 - 16
    assert first[0]["bbox"] == [2.0, 2.0, 12.0, 12.0]
    # any COCO reader (ours, here given the file alone) gets the same class ids back
    coco = open_dataset(store.folder / "annotations.json")
    assert coco.format == "COCO" and coco.classes == ("background", "cat", "dog")
    assert coco.colours == ((0, 0, 0), (200, 30, 30), (20, 180, 40))
    assert [np.array_equal(s.labels, store.labels(Path(s.name).name)) for s in coco] == [
        True, True]


@pytest.mark.parametrize("labels", [
    np.zeros((5, 7), np.uint8),                                   # all background: no RLE
    np.ones((5, 7), np.uint8),                                    # no background at all
    np.pad(np.ones((3, 5), np.uint8), 1) * 3 - np.pad(np.pad(np.ones((1, 3), np.uint8), 1),
                                                      1) * 3,     # a ring: the hole kept
    np.arange(35, dtype=np.uint8).reshape(5, 7) % 4,              # every pixel its own run
])
def test_class_rles_give_back_every_pixel(labels):
    height, width, entries = coded(labels)
    rebuilt = np.zeros_like(labels)
    for class_id, rle in entries:
        assert rle["size"] == [5, 7] and class_id > 0
        rebuilt[decode_rle(rle)] = class_id
    assert (height, width) == (5, 7) and np.array_equal(rebuilt, labels)
    assert sorted(c for c, _ in entries) == sorted(set(np.unique(labels).tolist()) - {0})


def test_an_unlabelled_folder_is_one_line_for_train(store):
    with pytest.raises(InputError) as error:
        open_dataset(store.folder)
    assert "no picture has labels" in str(error.value) and "\n" not in str(error.value)


def test_a_folder_holding_other_files_is_refused_and_left_as_it_was(tmp_path):
    target = tmp_path / "mine"
    target.mkdir()
    (target / "notes.txt").write_text("mine")
    with pytest.raises(OutputError) as error:
        LabelStore.create(target, pictures(tmp_path / "pics"))
    assert str(target) in str(error.value) and "\n" not in str(error.value)
    assert [p.name for p in target.iterdir()] == ["notes.txt"]
    with pytest.raises(InputError, match="not a livesegment label folder"):
        LabelStore.open(target)


def test_creating_again_continues_the_earlier_sitting(store, tmp_path):
    store.save_labels("p0.png", ring())
    again = LabelStore.create(store.folder, tmp_path / "pics", ["background", "other"])
    assert again.classes == CLASSES and np.array_equal(again.labels("p0.png"), ring())
    assert again.status("p0.png") == FrameStatus(True, 1.0)


def test_bare_class_names_get_colours_no_other_class_has(tmp_path, store):
    """Black for the background, then the window's own choice for an added class, passing
    over a colour given with a class."""
    from livesegment.core.compose.palette import NEW_COLOURS

    made = LabelStore.create(tmp_path / "named", pictures(tmp_path / "more"),
                             ["background", LabelClass("road", NEW_COLOURS[0]), "car", "bus"])
    assert [c.colour for c in made.classes] == [(0, 0, 0), NEW_COLOURS[0], NEW_COLOURS[1],
                                                 NEW_COLOURS[2]]
    store.set_classes([*store.classes, "bird"])  # CLASSES: black, (200, 30, 30), (20, 180, 40)
    assert store.classes[3] == LabelClass("bird", NEW_COLOURS[0])


def test_renaming_keeps_ids_removing_a_used_class_is_refused(store):
    store.save_labels("p0.png", ring())
    store.set_classes([CLASSES[0], LabelClass("kitten", (1, 2, 3)), CLASSES[2]])
    dataset = open_dataset(store.folder)
    assert dataset.classes == ("background", "kitten", "dog")
    assert dataset.colours[1] == (1, 2, 3) and np.array_equal(dataset[0].labels, ring())
    with pytest.raises(InputError, match="class 'dog' has pixels in p0.png"):
        store.set_classes(CLASSES[:2])
    with pytest.raises(InputError, match="same colour"):
        store.set_classes([*CLASSES, LabelClass("bird", (0, 0, 0))])
    with pytest.raises(InputError, match="may not hold"):
        store.set_classes([*CLASSES, LabelClass("a:b", (9, 9, 9))])
    assert LabelStore.open(store.folder).classes[1].name == "kitten"


def test_removing_an_unused_class_moves_the_later_ids_down(store):
    store.set_classes([*CLASSES, LabelClass("bird", (5, 5, 200))])
    labels = ring()
    labels[0, :4] = 3
    store.save_labels("p0.png", labels)
    store.save_labels("p1.png", np.where(labels == 1, 1, 0).astype(np.uint8))
    with pytest.raises(InputError, match="class 'dog' has pixels"):
        store.remove_class(2)
    store.save_labels("p0.png", np.where(labels == 2, 0, labels).astype(np.uint8))
    store.remove_class(2)
    assert [c.name for c in store.classes] == ["background", "cat", "bird"]
    expected = np.where(labels == 2, 0, np.where(labels == 3, 2, labels))
    assert np.array_equal(store.labels("p0.png"), expected)
    assert store.class_pixels()[2] == 4
    assert np.array_equal(store.labels("p1.png"), np.where(labels == 1, 1, 0))
    assert np.array_equal(open_dataset(store.folder)[0].labels, expected)


def test_carried_labels_never_replace_a_persons(store):
    assert store.save_labels("p0.png", ring(), confidence=0.4)
    assert store.status("p0.png") == FrameStatus(False, 0.4)
    assert store.save_labels("p0.png", ring())  # a person accepts: it is theirs now
    assert not store.save_labels("p0.png", np.zeros_like(ring()), confidence=0.9)
    assert np.array_equal(store.labels("p0.png"), ring())
    assert store.status("p0.png") == FrameStatus(True, 1.0)


def test_a_write_that_fails_is_one_line_and_leaves_the_old_file_and_no_temporary(store):
    """A mask whose place is taken (here by a folder) cannot be swapped in: the error names
    the file, the earlier state is still whole and nothing is left in the temp folder."""
    state = store.folder / ".livesegment" / "label.json"
    before = state.read_bytes()
    (store.folder / "masks" / "p0.png").mkdir()
    with pytest.raises(OutputError) as error:
        store.save_labels("p0.png", ring())
    assert str(error.value).startswith(f"cannot write {store.folder / 'masks' / 'p0.png'}: ")
    assert "\n" not in str(error.value)
    assert state.read_bytes() == before
    assert list((store.folder / ".livesegment" / "tmp").iterdir()) == []


def test_a_folder_whose_masks_were_deleted_by_hand_opens_unlabelled_and_labels_again(store):
    import shutil

    store.save_labels("p0.png", ring())
    shutil.rmtree(store.folder / "masks")
    again = LabelStore.open(store.folder)
    assert again.labelled() == [] and again.status("p0.png") is None
    assert again.save_labels("p1.png", ring())
    assert (LabelStore.open(store.folder).labels("p1.png") == ring()).all()


def test_labels_of_the_wrong_shape_or_class_are_refused(store):
    with pytest.raises(ValueError, match="expected"):
        store.save_labels("p0.png", np.zeros((5, 5), np.uint8))
    with pytest.raises(ValueError, match="class 3 is not one of the 3 classes"):
        store.save_labels("p0.png", np.full((24, 32), 3, np.uint8))
    with pytest.raises(KeyError):
        store.labels("absent.png")
    assert store.labels("p0.png") is None


def test_the_draft_comes_back_exactly_and_goes_when_dropped(store):
    mask = ring() == 1
    store.save_draft("p2.png", mask, 1)
    got, class_id = LabelStore.open(store.folder).draft("p2.png")
    assert np.array_equal(got, mask) and class_id == 1
    assert store.draft("p0.png") is None
    store.save_draft("p0.png", None, 1)  # another picture's: the draft stays
    assert store.draft("p2.png") is not None
    store.save_draft("p2.png", None, 1)
    assert store.draft("p2.png") is None
    with pytest.raises(ValueError, match="class 3 is not one"):
        store.save_draft("p2.png", mask, 3)
    store.save_draft("p2.png", mask, 1)
    (store.folder / ".livesegment" / "drafts" / "p2.png.npz").write_bytes(b"PK\3\4 broken")
    assert LabelStore.open(store.folder).draft("p2.png") is None


def test_each_picture_keeps_its_own_draft(store):
    ring_mask, corner = ring() == 1, np.zeros((24, 32), bool)
    corner[:5, :7] = True
    store.save_draft("p0.png", ring_mask, 1)
    store.save_draft("p2.png", corner, 2)  # drawing on another picture keeps p0's
    again = LabelStore.open(store.folder)
    assert again.drafted() == ["p0.png", "p2.png"]
    assert np.array_equal(again.draft("p0.png")[0], ring_mask) and again.draft("p0.png")[1] == 1
    assert np.array_equal(again.draft("p2.png")[0], corner) and again.draft("p2.png")[1] == 2
    again.save_draft("p0.png", None, 1)
    assert again.drafted() == ["p2.png"] and again.draft("p0.png") is None


def test_a_first_version_folder_with_its_single_draft_still_opens(store):
    """Folders of the first version kept one .livesegment/draft.npz for whichever picture."""
    store.save_draft("p1.png", ring() == 1, 2)
    drafts = store.folder / ".livesegment" / "drafts"
    (drafts / "p1.png.npz").rename(store.folder / ".livesegment" / "draft.npz")
    drafts.rmdir()
    old = LabelStore.open(store.folder)
    assert old.drafted() == ["p1.png"] and old.draft("p0.png") is None
    assert np.array_equal(old.draft("p1.png")[0], ring() == 1) and old.draft("p1.png")[1] == 2
    old.remove_class(1)  # its class moves down like any draft's
    assert old.draft("p1.png")[1] == 1
    assert not (store.folder / ".livesegment" / "draft.npz").exists()  # rewritten as p1's own
    old.save_draft("p1.png", None, 1)
    assert LabelStore.open(store.folder).drafted() == []


def test_the_class_of_the_object_being_drawn_is_kept_in_step(store):
    store.save_draft("p0.png", ring() == 1, 2)
    store.save_draft("p2.png", ring() == 1, 1)
    with pytest.raises(InputError, match="the object being drawn on p0.png is class 'dog'"):
        store.set_classes(CLASSES[:2])
    with pytest.raises(InputError, match="the object being drawn on p2.png is class 'cat'"):
        store.remove_class(1)
    store.save_draft("p2.png", None, 1)
    store.remove_class(1)  # the draft's class moves down with the dog
    assert store.draft("p0.png")[1] == 1 and store.classes[1].name == "dog"


def test_a_video_becomes_png_frames(tmp_path):
    clip = tmp_path / "walk.mp4"
    make_clip(clip, frames=7, size=(48, 64))
    before = digest(tmp_path)
    seen = []
    store = LabelStore.create(tmp_path / "labels", clip,
                              progress=lambda done, total: seen.append((done, total)))
    assert store.is_video() and seen == [(i, 7) for i in range(1, 8)]  # the mp4 says 7
    assert store.keys() == [f"walk_{i:06d}.png" for i in range(7)]
    assert store.picture(store.keys()[3]).shape == (48, 64, 3)
    assert LabelStore.create(tmp_path / "every", clip, every=3).keys() == [
        "walk_000000.png", "walk_000003.png", "walk_000006.png"]
    assert {k: v for k, v in digest(tmp_path).items() if k in before} == before


@pytest.mark.parametrize(("suffix", "codec", "every", "totals"), [
    ("mp4", "libx264", 1, {12}),  # the container's frame count
    ("mkv", "libx264", 1, {12}),  # no count: duration x rate
    ("avi", "mpeg4", 1, {12}),  # a count of millisecond slots (480) disagrees: duration x rate
    ("mp4", "libx264", 5, {3}),  # frames 0, 5, 10
])
def test_frames_are_counted_out_of_what_the_container_says(tmp_path, suffix, codec, every,
                                                           totals):
    clip = tmp_path / f"walk.{suffix}"
    make_clip(clip, frames=12, size=(48, 64), codec=codec)
    seen = []
    store = LabelStore.create(tmp_path / "labels", clip, every=every,
                              progress=lambda done, total: seen.append((done, total)))
    assert {total for _, total in seen} == totals
    assert [done for done, _ in seen] == list(range(1, len(store.keys()) + 1))
    assert seen[-1] == (len(store.keys()), len(store.keys()))


def test_pictures_are_counted_out_of_all_of_them(tmp_path):
    seen = []
    LabelStore.create(tmp_path / "labels", pictures(tmp_path / "pics"),
                      progress=lambda done, total: seen.append((done, total)))
    assert seen == [(1, 3), (2, 3), (3, 3)]


def test_a_progress_that_raises_stops_and_removes_the_new_folder(tmp_path):
    clip = tmp_path / "walk.mp4"
    make_clip(clip, frames=12, size=(48, 64))

    def stop_at_4(done, _total):
        if done == 4:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        LabelStore.create(tmp_path / "labels", clip, progress=stop_at_4)
    assert not (tmp_path / "labels").exists()


@pytest.mark.parametrize(("make", "message"), [
    (lambda d: d / "absent.mp4", "input not found"),
    (lambda d: (d / "notes.txt").write_text("hello") and d / "notes.txt",
     "is not a picture or a video"),
    (lambda d: (d / "broken.mp4").write_bytes(b"\0" * 100) and d / "broken.mp4",
     "cannot read video"),
    (lambda d: (d / "bad.png").write_bytes(b"not a png") and [d / "bad.png"],
     "not a supported picture"),
    (lambda d: (d / "empty").mkdir() or d / "empty", "holds no pictures"),
])
def test_what_is_not_a_picture_or_video_is_one_line(tmp_path, make, message):
    with pytest.raises(InputError) as error:
        LabelStore.create(tmp_path / "labels", make(tmp_path))
    assert message in str(error.value) and "\n" not in str(error.value)
    assert not (tmp_path / "labels").exists()  # a failed start leaves nothing behind


def test_an_unfinished_folder_is_completed_when_created_again(tmp_path):
    source = pictures(tmp_path / "pics", count=2)
    store = LabelStore.create(tmp_path / "labels", source, CLASSES)
    state = store.folder / ".livesegment" / "label.json"
    doc = json.loads(state.read_text())
    state.write_text(json.dumps({**doc, "complete": False}))  # killed while copying
    (store.folder / "images" / "p1.png").unlink()
    (store.folder / "images" / "junk.png").write_bytes(b"half")
    with pytest.raises(InputError, match="unfinished label folder"):
        LabelStore.open(store.folder)
    again = LabelStore.create(store.folder, source, CLASSES)
    assert again.keys() == ["p0.png", "p1.png"]


def test_pictures_are_in_the_order_a_file_browser_shows(tmp_path):
    source = tmp_path / "pics"
    source.mkdir()
    for name in ("img10.png", "img2.png", "IMG1.png"):
        cv2.imwrite(str(source / name), np.zeros((4, 4, 3), np.uint8))
    store = LabelStore.create(tmp_path / "labels", source)
    assert store.keys() == ["IMG1.png", "img2.png", "img10.png"]


def test_pictures_whose_masks_would_share_a_name_are_renamed(tmp_path):
    source = tmp_path / "pics"
    source.mkdir()
    for name in ("a.png", "a.jpg", "b.png"):
        cv2.imwrite(str(source / name), np.full((8, 8, 3), 90, np.uint8))
    store = LabelStore.create(tmp_path / "labels", source, CLASSES[:2])
    assert store.keys() == ["a-2.png", "a.jpg", "b.png"]
    for key in store.keys():
        store.save_labels(key, np.ones((8, 8), np.uint8))
    assert len(open_dataset(store.folder)) == 3


SITTING = textwrap.dedent("""
    import sys
    import numpy as np
    from livesegment.io.datasets.labelstore import LabelClass, LabelStore
    store = LabelStore.open(sys.argv[1])
    labels = np.zeros((24, 32), np.uint8)
    step = 0
    while True:  # a user labelling fast: strokes into the draft, accepted now and then
        labels[step % 24, :] = 1 + step % 2
        store.save_draft(f"p{1 + step % 2}.png", labels > 0, 1 + step % 2)  # two pictures
        store.save_labels(f"p{step % 3}.png", labels)
        if step == 5:
            print("saving", flush=True)
        step += 1
""")


def test_a_killed_sitting_reopens_whole(store):
    store.save_labels("p0.png", ring())
    process = subprocess.Popen([sys.executable, "-c", SITTING, str(store.folder)],
                               stdout=subprocess.PIPE, text=True,
                               env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert process.stdout.readline().strip() == "saving"
    time.sleep(0.3)
    process.send_signal(signal.SIGKILL)
    process.wait()
    again = LabelStore.open(store.folder)
    assert not list((store.folder / ".livesegment" / "tmp").iterdir())
    dataset = open_dataset(store.folder)  # every mask whole: no problem in the report
    assert len(dataset) == 3
    for sample in dataset:
        labels = again.labels(Path(sample.name).name)
        assert np.array_equal(sample.labels, labels)
        assert set(np.unique(labels)) <= {0, 1, 2}
    for key, class_id in (("p1.png", 1), ("p2.png", 2)):  # both drafts, each whole
        mask, drawn_id = again.draft(key)
        assert mask.any() and drawn_id == class_id
    coco = open_dataset(store.folder / "annotations.json")
    for sample in coco:  # the COCO copy agrees with the masks after the kill
        assert np.array_equal(sample.labels, again.labels(Path(sample.name).name))


@pytest.mark.parametrize(("value", "rgb"), [
    ("#c81e1e", (200, 30, 30)), ([20, 180, 40], (20, 180, 40)), ("#zzzzzz", None),
    ("red", None), ([1, 2], None), ([1, 2, 300], None), (None, None),
])
def test_coco_category_colours_are_read_where_stated(value, rgb):
    from livesegment.io.datasets.coco import category_colours, parse_colour

    assert parse_colour(value) == rgb
    doc = {"categories": [{"id": 1, "name": "cat", "color": value},
                          {"id": 2, "name": "dog", "color": "#000080"}]}
    colours = category_colours([(Path("a.json"), doc)], {1: 1, 2: 2}, 3)
    assert colours == (None if rgb is None else ((0, 0, 0), rgb, (0, 0, 128)))
