"""One entry point for every dataset format: look at the folder, pick the reader, pre-flight.

Formats are recognised by what is on disk, most specific first: a folder our label store
wrote (its masks, not the COCO copy beside them), a YOLO ``data.yaml``, a VOC /
CVAT ``SegmentationClass/`` export, COCO JSON, image + mask folders, then LabelMe JSON files.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from livesegment.errors import InputError
from livesegment.io.datasets.coco import scan_coco
from livesegment.io.datasets.dataset import LabelledDataset, Layout
from livesegment.io.datasets.folders import scan_pairs, scan_voc
from livesegment.io.datasets.labelfiles import scan_label_folder
from livesegment.io.datasets.labelme import scan_labelme
from livesegment.io.datasets.preflight import Progress, scan
from livesegment.io.datasets.yolo import scan_yolo

Scanner = Callable[[Path, tuple[str, ...] | None], Layout | None]
SCANNERS: tuple[Scanner, ...] = (scan_label_folder, scan_yolo, scan_voc, scan_coco, scan_pairs,
                                 scan_labelme)
KNOWN = ("image + mask folders (images/ + masks/), PASCAL VOC or CVAT segmentation masks, "
         "COCO JSON, YOLO-seg (data.yaml), LabelMe JSON")


def open_dataset(path: Path | str, classes: Sequence[str] | None = None,
                 ignore: Sequence[int] = (), strict: bool = True,
                 progress: Progress | None = None) -> LabelledDataset:
    """Finds the dataset's format, reads every annotation once and returns the dataset with
    its pre-flight report (``dataset.report``).

    ``classes`` names the classes where the dataset does not (a clash with its own names is an
    error); ``ignore`` lists extra mask values that mean "don't count" (GrabCut's 128 band).
    With ``strict`` a problem in the report raises :class:`InputError` (one line naming the
    file); without, the caller shows the report and calls ``report.check()`` itself.
    """
    root = Path(path)
    if not root.exists():
        raise InputError(f"dataset not found: {root}")
    given = tuple(classes) if classes is not None else None
    layout = detect(root, given)
    dataset = scan(layout, tuple(ignore), progress)
    if strict:
        dataset.report.check()
    return dataset


def detect(root: Path, classes: tuple[str, ...] | None) -> Layout:
    if root.is_dir() and not any(root.iterdir()):
        raise InputError(f"dataset folder {root} is empty")
    for scanner in SCANNERS:
        if root.is_dir() or scanner in (scan_yolo, scan_coco):
            layout = scanner(root, classes)
            if layout is not None:
                return layout
    raise InputError(f"{root}: no labelled dataset found (expected {KNOWN})")
