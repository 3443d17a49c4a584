"""Image + mask folders, PASCAL VOC and CVAT exports: crafted tiny datasets, exact labels."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from livesegment.core.compose.palette import voc_palette
from livesegment.errors import InputError
from livesegment.io.datasets import IGNORE, open_dataset
from tests.io.labelled import H, W, ids, picture, write_mask, write_picture

PERSON = ids("......",
             ".11...",
             ".11x..",
             "......")
TWO = ids("..22..",
          "..22..",
          "1.....",
          "1....x")


def pair_dataset(root: Path, masks: dict[str, np.ndarray], classes: str | None = None,
                 image_dir: str = "images", mask_dir: str = "masks",
                 mask_suffix: str = ".png") -> Path:
    for i, (name, mask) in enumerate(masks.items()):
        write_picture(root / image_dir / f"{name}.png", picture(i))
        write_mask(root / mask_dir / f"{name}{mask_suffix}", mask)
    if classes is not None:
        (root / "classes.txt").write_text(classes)
    return root


def test_class_id_masks_with_classes_file_and_ignore(tmp_path):
    root = pair_dataset(tmp_path, {"a": PERSON, "b": TWO}, "background\nperson\ncar\n")
    dataset = open_dataset(root)
    assert dataset.classes == ("background", "person", "car")
    assert dataset.format == "image+mask folders"
    first, second = dataset[0], dataset[1]
    np.testing.assert_array_equal(first.labels, PERSON)
    np.testing.assert_array_equal(second.labels, TWO)
    assert first.labels.dtype == np.uint8 and first.labels[2, 3] == IGNORE
    np.testing.assert_array_equal(first.image, picture(0))
    assert first.name == "images/a.png" and first.path == root / "images" / "a.png"
    report = dataset.report
    # PERSON: 19 background, 4 person, 1 ignored; TWO: 17 background, 2 person (1), 4 car, 1 x
    assert report.class_pixels == (19 + 17, 4 + 2, 4)
    assert report.ignore_pixels == 2
    assert report.class_pictures == (2, 2, 1)
    assert report.problems == () and report.empty == ()
    assert "value 255: ignore (not counted)" in report.notes


def test_sample_is_frozen(tmp_path):
    sample = open_dataset(pair_dataset(tmp_path, {"a": PERSON}))[0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        sample.labels = np.zeros((H, W), np.uint8)


@pytest.mark.parametrize("classes, names", [
    (None, ("background", "foreground")),
    ("background\ncrack\n", ("background", "crack")),
])
def test_binary_0_255_masks_become_class_1_not_ignore(tmp_path, classes, names):
    mask = np.where(PERSON == 1, 255, 0).astype(np.uint8)
    dataset = open_dataset(pair_dataset(tmp_path, {"a": mask, "b": np.zeros((H, W))},
                                        classes))
    assert dataset.classes == names
    np.testing.assert_array_equal(dataset[0].labels, (PERSON == 1).astype(np.uint8))
    assert dataset.report.class_pixels == (24 - 4 + 24, 4)
    assert dataset.report.ignore_pixels == 0
    assert dataset.report.empty == ("images/b.png",)
    assert any("255 read as class 1" in n for n in dataset.report.notes)


def test_binary_masks_with_three_classes_named_are_refused(tmp_path):
    mask = np.where(PERSON == 1, 255, 0).astype(np.uint8)
    root = pair_dataset(tmp_path, {"a": mask}, "background\na\nb\n")
    with pytest.raises(InputError, match="only 0 and 255 but 3 classes"):
        open_dataset(root)


def test_grey_levels_are_refused_unless_told_what_to_ignore(tmp_path):
    trimap = np.where(PERSON == 1, 255, 0).astype(np.uint8)
    trimap[0, :] = 128  # GrabCut's uncertain band
    root = pair_dataset(tmp_path, {"a": trimap})
    with pytest.raises(InputError, match=r"values 0, 128, 255 are not class ids"):
        open_dataset(root)
    dataset = open_dataset(root, ignore=(128,))
    expected = (PERSON == 1).astype(np.uint8)
    expected[0, :] = IGNORE
    np.testing.assert_array_equal(dataset[0].labels, expected)
    assert dataset.classes == ("background", "foreground")


def test_undeclared_consecutive_ids_get_generic_names(tmp_path):
    dataset = open_dataset(pair_dataset(tmp_path, {"a": TWO}))
    assert dataset.classes == ("background", "class 1", "class 2")
    np.testing.assert_array_equal(dataset[0].labels, TWO)


def test_value_with_no_class_names_the_file_and_value(tmp_path):
    bad = PERSON.copy()
    bad[0, 0] = 7
    root = pair_dataset(tmp_path, {"a": PERSON, "b": bad}, "background\nperson\n")
    with pytest.raises(InputError, match=r"masks/b\.png: values 7 name no class"):
        open_dataset(root)
    dataset = open_dataset(root, strict=False)  # the report lists it; reading it still fails
    assert len(dataset.report.problems) == 1
    with pytest.raises(InputError, match="values 7 name no class"):
        dataset[1]
    np.testing.assert_array_equal(dataset[0].labels, PERSON)


def test_mask_of_another_size_is_a_problem_naming_it(tmp_path):
    root = pair_dataset(tmp_path, {"a": PERSON})
    write_mask(root / "masks" / "a.png", np.zeros((H + 1, W), np.uint8))
    with pytest.raises(InputError, match=r"masks/a\.png: mask is 6x5 but its image is 6x4"):
        open_dataset(root)


def test_palette_masks_keep_indices_and_give_colours(tmp_path):
    palette = np.array([[0, 0, 0], [200, 10, 10], [10, 200, 10]], np.uint8)
    write_picture(tmp_path / "images" / "a.jpg", picture())
    write_mask(tmp_path / "masks" / "a.png", TWO, "P", palette)
    (tmp_path / "classes.txt").write_text("0 background\n1 scratch\n2 dent\n")
    dataset = open_dataset(tmp_path)
    np.testing.assert_array_equal(dataset[0].labels, TWO)
    assert dataset.colours == ((0, 0, 0), (200, 10, 10), (10, 200, 10))
    assert dataset.classes == ("background", "scratch", "dent")


def test_masks_matched_by_tag_and_split_subfolders_with_duplicates(tmp_path):
    same = picture(5)
    for split, name in (("train", "a"), ("train", "b"), ("val", "c")):
        write_picture(tmp_path / "images" / split / f"{name}.png",
                      same if name in ("a", "c") else picture(1))
        write_mask(tmp_path / "labels" / split / f"{name}_mask.png", PERSON)
    write_picture(tmp_path / "images" / "val" / "lonely.png", picture(2))
    write_mask(tmp_path / "labels" / "train" / "orphan.png", PERSON)
    dataset = open_dataset(tmp_path, classes=("background", "person"))
    assert [(s.split, s.name) for s in dataset] == [
        ("train", "images/train/a.png"), ("train", "images/train/b.png"),
        ("val", "images/val/c.png")]
    report = dataset.report
    assert report.splits == (("train", 2), ("val", 1))
    assert report.duplicates == (("images/train/a.png", "images/val/c.png"),)
    assert report.images_without_labels == ("images/val/lonely.png",)
    assert report.labels_without_images == ("labels/train/orphan.png",)
    assert len(dataset.subset("val")) == 1
    text = "\n".join(report.lines())
    assert "the same picture in two splits: 1 (images/train/a.png = images/val/c.png)" in text
    assert "pictures without labels (skipped): 1 (images/val/lonely.png)" in text


def test_split_folders_each_holding_images_and_masks(tmp_path):
    pair_dataset(tmp_path / "train", {"a": PERSON})
    pair_dataset(tmp_path / "val", {"b": PERSON})
    dataset = open_dataset(tmp_path, classes=("background", "person"))
    assert [(s.split, s.name) for s in dataset] == [("train", "train/images/a.png"),
                                                    ("val", "val/images/b.png")]


def test_classes_given_must_agree_with_the_dataset(tmp_path):
    root = pair_dataset(tmp_path, {"a": PERSON}, "background\nperson\n")
    with pytest.raises(InputError, match="names the classes background, person; the classes "
                                         "given were background, cat"):
        open_dataset(root, classes=("background", "cat"))


def test_jpeg_masks_are_refused(tmp_path):
    root = pair_dataset(tmp_path, {"a": PERSON * 255}, mask_suffix=".jpg")
    with pytest.raises(InputError, match="masks saved as JPEG"):
        open_dataset(root)


def test_colour_masks_need_a_labelmap(tmp_path):
    root = pair_dataset(tmp_path, {"a": PERSON})
    colour = np.zeros((H, W, 3), np.uint8)
    colour[PERSON == 1] = (250, 50, 0)
    write_mask(root / "masks" / "a.png", colour)
    with pytest.raises(InputError, match=r"masks/a\.png is in colour but the dataset has no "
                                         "labelmap.txt"):
        open_dataset(root)
    (root / "labelmap.txt").write_text("background:0,0,0::\nperson:250,50,0::\n")
    np.testing.assert_array_equal(open_dataset(root)[0].labels, (PERSON == 1).astype(np.uint8))


def cvat_export(root: Path, masks: dict[str, np.ndarray], labelmap: str | None) -> Path:
    for i, (name, rgb) in enumerate(masks.items()):
        write_picture(root / "JPEGImages" / f"{name}.png", picture(i))
        write_mask(root / "SegmentationClass" / f"{name}.png", rgb)
    (root / "ImageSets" / "Segmentation").mkdir(parents=True)
    (root / "ImageSets" / "Segmentation" / "default.txt").write_text("\n".join(masks) + "\n")
    if labelmap is not None:
        (root / "labelmap.txt").write_text(labelmap)
    return root


LABELMAP = ("# label:color_rgb:parts:actions\nbackground:0,0,0::\ncat:255,0,0::\n"
            "dog:0,0,255::\n")


def coloured(mask: np.ndarray, colours: dict[int, tuple[int, int, int]]) -> np.ndarray:
    rgb = np.zeros((*mask.shape, 3), np.uint8)
    for value, colour in colours.items():
        rgb[mask == value] = colour
    return rgb


def test_cvat_segmentation_mask_export(tmp_path):
    rgb = coloured(TWO, {1: (255, 0, 0), 2: (0, 0, 255), 255: (224, 224, 192)})
    dataset = open_dataset(cvat_export(tmp_path, {"frame_000": rgb}, LABELMAP))
    assert dataset.format == "CVAT segmentation mask"
    assert dataset.classes == ("background", "cat", "dog")
    assert dataset.colours == ((0, 0, 0), (255, 0, 0), (0, 0, 255))
    np.testing.assert_array_equal(dataset[0].labels, TWO)  # VOC's void colour: ignore
    assert dataset[0].split == ""


def test_cvat_unknown_colour_names_file_and_colour(tmp_path):
    rgb = coloured(TWO, {1: (255, 0, 0), 2: (9, 9, 9)})
    root = cvat_export(tmp_path, {"f": rgb}, LABELMAP)
    with pytest.raises(InputError, match=r"SegmentationClass/f\.png: colours \(9,9,9\) name "
                                         "no class"):
        open_dataset(root)


def test_cvat_one_channel_masks_are_class_indices(tmp_path):
    root = cvat_export(tmp_path, {"f": TWO}, LABELMAP)
    np.testing.assert_array_equal(open_dataset(root)[0].labels, TWO)


def test_voc_palette_masks_and_split_lists(tmp_path):
    person = np.where(PERSON == 1, 15, PERSON).astype(np.uint8)  # VOC person = 15, 255 void
    for i, name in enumerate(("2007_000001", "2007_000002")):
        write_picture(tmp_path / "JPEGImages" / f"{name}.jpg", picture(i))
        write_mask(tmp_path / "SegmentationClass" / f"{name}.png", person, "P", voc_palette(256))
    lists = tmp_path / "ImageSets" / "Segmentation"
    lists.mkdir(parents=True)
    (lists / "train.txt").write_text("2007_000001\n")
    (lists / "val.txt").write_text("2007_000002\n")
    (lists / "trainval.txt").write_text("2007_000001\n2007_000002\n")
    dataset = open_dataset(tmp_path)
    assert dataset.format == "PASCAL VOC" and len(dataset.classes) == 21
    assert [s.split for s in dataset] == ["train", "val"]
    np.testing.assert_array_equal(dataset[0].labels, person)
    assert dataset.report.duplicates == ()


@pytest.mark.parametrize("bomb", ["images/a.png", "masks/b.png"])
def test_a_file_stating_a_giant_size_is_a_one_line_problem(tmp_path, bomb):
    from tests.io.test_hostile_files import png_header

    root = pair_dataset(tmp_path, {"a": PERSON, "b": PERSON}, "background\nperson\n")
    png_header(root / bomb, 60_000, 60_000)
    with pytest.raises(InputError, match=rf"{bomb} (is 60000x60000 pixels|states a size over)"):
        open_dataset(root)
