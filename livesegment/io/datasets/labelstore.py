"""The dataset being labelled: a folder that ``train`` and ``eval`` read as it is, kept safe on
disk whatever happens to the program drawing on it.

Layout (the reader's image + mask format, see folders.py)::

    images/            the pictures (copied: the user's files are only read), or a video's
                       frames as <stem>_<index:06d>.png
    masks/<stem>.png   class ids (0 = background), only for pictures someone labelled: an
                       unlabelled picture has no mask, so the reader skips it instead of
                       learning it as "all background"
    labelmap.txt       names and colours (CVAT's format, which the reader takes colours from)
    classes.txt        names only, for tools that read no colours
    annotations.json   the same labels as COCO, one RLE per class and picture (holes kept)
    .livesegment/      ours: label.json (marker, which frames a person accepted and which
                       were carried, with their confidence), drafts/<picture>.npz (the object
                       being drawn on each picture where one is left unaccepted, so a crash
                       loses at most the last stroke on any of them; folders of the first
                       version kept one draft.npz, still read), tmp/ (writes in progress,
                       renamed into place when whole)
"""

from __future__ import annotations

import io
import re
import shutil
import threading
import time
import zipfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from livesegment.errors import InputError, OutputError
from livesegment.io.datasets import labelfiles as files
from livesegment.io.datasets.dataset import header_size
from livesegment.io.datasets.labelclasses import (LabelClass, as_classes, checked_classes,
                                                  split_classes)
from livesegment.io.datasets.labelsources import (Progress, copy_pictures, extract_frames,
                                                  plan_sources)
from livesegment.io.images import IMAGE_SUFFIXES, read_image

VERSION = 1
DRAFTS = "drafts"  # in .livesegment/: one file per picture that has a draft
DEFER_S = 2.0  # within deferred(), the state and COCO files are rewritten at most this often


@dataclass(frozen=True)
class FrameStatus:
    """Who labelled a picture: a person (``human``) or the carrying of a mask through a
    video, with that step's confidence (below the tracker's threshold: needs a look)."""

    human: bool
    confidence: float = 1.0


Source = Path | str | Sequence[Path | str]


class LabelStore:
    """A folder being labelled (see the module's docstring for what is in it).

    Every change is on disk when the call returns, each file replaced whole. Calls may come
    from several threads (the window and a background carrying run): one lock orders them.
    """

    def __init__(self, folder: Path, state: dict) -> None:
        """Use :meth:`create` or :meth:`open`."""
        self.folder = folder
        self._state = state
        self._lock = threading.RLock()
        self._sizes: dict[str, tuple[int, int]] = {}
        self._deferred = 0
        self._written_at = 0.0
        self._dirty = False
        names, colours = files.read_classes(folder)
        self._classes = tuple(LabelClass(n, tuple(c)) for n, c in zip(names, colours))
        self._keys = sorted((p.name for p in (folder / "images").iterdir()
                             if p.suffix.lower() in IMAGE_SUFFIXES and not
                             p.name.startswith(".")), key=natural)
        self._pending: set[str] = set()
        self._coded = self._read_coco()
        self._frames = self._checked_frames()
        if self._pending:  # a crash came between a mask and the files that list it
            self._write_index(force=True)

    # -- opening ----------------------------------------------------------------------------
    @classmethod
    def create(cls, folder: Path | str, sources: Source,
               classes: Sequence[LabelClass | str] | None = None, *, every: int = 1,
               progress: Progress | None = None) -> LabelStore:
        """A new label folder holding ``sources`` (a folder of pictures, a list of picture
        paths, or one video path; ``every``: keep every n-th frame of a video), or the
        earlier label folder at ``folder`` opened to continue (a sitting cut short while the
        pictures were being copied is completed first). A folder holding anything else is
        refused: nothing on disk is overwritten without asking."""
        folder = Path(folder)
        if folder.exists() and not folder.is_dir():
            raise OutputError(f"{folder} exists and is not a folder; choose a new folder")
        if files.is_label_folder(folder):
            if files.read_json(files.state_path(folder)).get("complete"):
                return cls.open(folder)
        elif folder.is_dir() and any(folder.iterdir()):
            raise OutputError(f"{folder} already holds files that are not a livesegment label "
                              "folder; choose a new or empty folder")
        pictures, video = plan_sources(sources)
        chosen = checked_classes(as_classes(classes))
        state = {"format": files.FORMAT, "version": VERSION, "complete": False,
                 "video": video.name if video else None,
                 "sources": [str(p) for p in ([video] if video else pictures)], "frames": {}}
        made = not folder.exists()
        try:
            fill(folder, state, chosen, pictures, video, every, progress)
        except BaseException:
            # all of it is ours (the folder was new, empty, or our unfinished one)
            shutil.rmtree(folder, ignore_errors=True)
            if not made:
                folder.mkdir(exist_ok=True)
            raise
        store = cls(folder, state)
        store._write_coco()
        return store

    @classmethod
    def open(cls, folder: Path | str) -> LabelStore:
        """An existing label folder; anything else is an :class:`InputError`."""
        folder = Path(folder)
        if not files.is_label_folder(folder):
            raise InputError(f"{folder} is not a livesegment label folder")
        state = files.read_json(files.state_path(folder))
        if state.get("format") != files.FORMAT or not state.get("complete"):
            raise InputError(f"{folder} is an unfinished label folder; create it again from "
                             "its pictures or video to complete it")
        files.clear_temp(folder)
        (folder / "masks").mkdir(exist_ok=True)  # emptied by hand to start over: labels again
        return cls(folder, state)

    # -- classes ----------------------------------------------------------------------------
    @property
    def classes(self) -> tuple[LabelClass, ...]:
        """Index = class id; 0 is the background."""
        return self._classes

    def set_classes(self, classes: Sequence[LabelClass | str]) -> None:
        """Saved at once. The class at index i takes id i, so renaming or recolouring keeps
        the masks' meaning; a shorter list removes the last classes, refused
        (:class:`InputError`) for one that has pixels."""
        chosen = checked_classes(as_classes(classes))
        with self._lock:
            if len(chosen) < len(self._classes):
                self._refuse_removing(range(len(chosen), len(self._classes)))
            self._classes = chosen
            files.write_classes(self.folder, *split_classes(chosen))
            self._write_coco()

    def remove_class(self, class_id: int) -> None:
        """Removes a class no pixel has; the classes after it move down an id (masks
        holding them are rewritten)."""
        with self._lock:
            if not 0 < class_id < len(self._classes):
                raise InputError(f"there is no class {class_id} to remove (class 0 is the "
                                 "background)")
            self._refuse_removing([class_id])
            shift = np.arange(256, dtype=np.uint8)
            shift[class_id + 1:255] -= 1
            for key in self.labelled():
                labels = self.labels(key)
                if labels.max() > class_id:
                    self._write_labels(key, shift[labels])
            for key, mask, drawn_id in self._draft_records():
                if drawn_id > class_id:
                    self._write_draft(key, mask, drawn_id - 1)
            self._classes = self._classes[:class_id] + self._classes[class_id + 1:]
            files.write_classes(self.folder, *split_classes(self._classes))
            self._write_index(force=True)

    def class_pixels(self) -> tuple[int, ...]:
        """Labelled pixels of each class over every mask."""
        counts = np.zeros(256, np.int64)
        for key in self.labelled():
            counts += np.bincount(self.labels(key).ravel(), minlength=256)
        return tuple(int(c) for c in counts[: len(self._classes)])

    def _refuse_removing(self, ids: Sequence[int]) -> None:
        for key, _, drawn_id in self._draft_records():
            if drawn_id in ids:
                raise InputError(f"the object being drawn on {key} is class "
                                 f"'{self._classes[drawn_id].name}'; accept or drop it first")
        for key in self.labelled():
            present = set(np.unique(self.labels(key)).tolist()) & set(ids)
            if present:
                name = self._classes[min(present)].name
                raise InputError(f"class '{name}' has pixels in {key}; relabel them before "
                                 "removing the class")

    # -- pictures and labels ----------------------------------------------------------------
    def keys(self) -> list[str]:
        """The pictures (or frames, in time order) by their file name in images/."""
        return list(self._keys)

    def index(self, key: str) -> int:
        return self._keys.index(self._known(key))

    def is_video(self) -> bool:
        return self._state.get("video") is not None

    def picture(self, key: str) -> np.ndarray:
        """HxWx3 uint8 BGR, upright as viewers show it (as the reader reads it)."""
        return read_image(self.folder / "images" / self._known(key))

    def size(self, key: str) -> tuple[int, int]:
        """(H, W) of a picture, from its header."""
        if key not in self._sizes:
            self._sizes[key] = header_size(self.folder / "images" / self._known(key))
        return self._sizes[key]

    def labels(self, key: str) -> np.ndarray | None:
        """HxW uint8 class ids, or None for a picture nobody labelled yet."""
        path = self._mask_path(self._known(key))
        return files.read_mask(path) if path.is_file() else None

    def labelled(self) -> list[str]:
        """The pictures that have labels, in order."""
        return [k for k in self._keys if k in self._coded]

    def status(self, key: str) -> FrameStatus | None:
        """Who labelled the picture, None if nobody did."""
        entry = self._frames.get(self._known(key))
        return None if entry is None else FrameStatus(entry["human"], entry["confidence"])

    def save_labels(self, key: str, labels: np.ndarray, *,
                    confidence: float | None = None) -> bool:
        """A picture's class ids, accepted by a person (``confidence`` None) or carried
        there with ``confidence``; the mask is replaced whole, then the state and COCO.
        Carried labels never replace a person's: False (nothing written) where the picture
        was accepted meanwhile, even by another thread."""
        with self._lock:
            labels = self._checked_labels(self._known(key), labels)
            human = confidence is None
            if not human and self._frames.get(key, {}).get("human"):
                return False
            self._write_labels(key, labels)
            self._frames[key] = {"human": human, "confidence": 1.0 if human else
                                 float(confidence)}
            self._write_index()
            return True

    def forget_labels(self, key: str) -> None:
        """Back to "not labelled yet" (the reader skips the picture again)."""
        with self._lock:
            self._journal(self._known(key))
            self._mask_path(key).unlink(missing_ok=True)
            self._coded.pop(key, None)
            self._frames.pop(key, None)
            self._write_index()

    @contextmanager
    def deferred(self) -> Iterator[LabelStore]:
        """Many saves in a row (a carrying run): masks are written at once, the state and
        COCO files at most every DEFER_S seconds and at the end, not once per frame. A crash
        inside keeps every mask; the ones the state had not heard of yet reopen as carried
        with confidence 0, so they are marked to be looked at."""
        with self._lock:
            self._deferred += 1
        try:
            yield self
        finally:
            with self._lock:
                self._deferred -= 1
                if not self._deferred and self._dirty:
                    self._write_index(force=True)

    # -- drafts ---------------------------------------------------------------------------
    def save_draft(self, key: str, mask: np.ndarray | None, class_id: int) -> None:
        """The object being drawn on ``key`` (HxW bool) and its class, replaced at each
        stroke so a crash loses at most the last one; None drops the draft of ``key``. Each
        picture has its own: drafts left on several pictures all survive a crash."""
        with self._lock:
            if mask is None:
                if self.draft(key) is not None:
                    self._draft_path(key).unlink(missing_ok=True)
                    self._drop_old_draft(key)
                return
            mask = np.asarray(mask)
            if mask.dtype != np.bool_ or mask.shape != self.size(self._known(key)):
                raise ValueError(f"draft: expected a {self.size(key)} bool mask, got "
                                 f"{mask.dtype} {mask.shape}")
            if not 0 <= class_id < len(self._classes):
                raise ValueError(f"draft: class {class_id} is not one of the "
                                 f"{len(self._classes)} classes")
            self._write_draft(key, mask, class_id)

    def draft(self, key: str) -> tuple[np.ndarray, int] | None:
        """The draft left on ``key`` (mask, class id), or None."""
        if key not in self._keys:
            return None
        drawn = read_draft(self._draft_path(key))
        if drawn is None:  # a first-version folder's single draft
            drawn = read_draft(self._old_draft_path())
        return None if drawn is None or drawn[0] != key else (drawn[1], drawn[2])

    def drafted(self) -> list[str]:
        """The pictures that have a draft, in order."""
        return [key for key, _, _ in self._draft_records()]

    def _draft_path(self, key: str) -> Path:
        return self.folder / files.STATE_DIR / DRAFTS / f"{key}.npz"

    def _old_draft_path(self) -> Path:
        return self.folder / files.STATE_DIR / files.DRAFT_FILE

    def _write_draft(self, key: str, mask: np.ndarray, class_id: int) -> None:
        buffer = io.BytesIO()
        np.savez_compressed(buffer, key=np.array(key), class_id=np.array(int(class_id)),
                            shape=np.array(mask.shape), bits=np.packbits(mask))
        self._draft_path(key).parent.mkdir(exist_ok=True)
        files.write_bytes(self.folder, self._draft_path(key), buffer.getvalue())
        self._drop_old_draft(key)  # the picture's own file says it now

    def _drop_old_draft(self, key: str) -> None:
        old = read_draft(self._old_draft_path())
        if old is not None and old[0] == key:
            self._old_draft_path().unlink(missing_ok=True)

    def _draft_records(self) -> list[tuple[str, np.ndarray, int]]:
        """(key, mask, class id) of every draft, in the pictures' order."""
        named = {p.name[:-4] for p in (self.folder / files.STATE_DIR / DRAFTS).glob("*.npz")}
        old = read_draft(self._old_draft_path())
        if old is not None:
            named.add(old[0])
        return [(k, *drawn) for k in self._keys
                if k in named and (drawn := self.draft(k)) is not None]

    # -- inside -----------------------------------------------------------------------------
    def _known(self, key: str) -> str:
        if key not in self._keys:
            raise KeyError(f"{key} is not a picture of {self.folder}")
        return key

    def _mask_path(self, key: str) -> Path:
        return self.folder / "masks" / (Path(key).stem + ".png")

    def _checked_labels(self, key: str, labels: np.ndarray) -> np.ndarray:
        labels = np.asarray(labels)
        if labels.dtype != np.uint8 or labels.shape != self.size(key):
            raise ValueError(f"labels: expected {self.size(key)} uint8 class ids, got "
                             f"{labels.dtype} {labels.shape}")
        top = int(labels.max()) if labels.size else 0
        if top >= len(self._classes):
            raise ValueError(f"labels: class {top} is not one of the "
                             f"{len(self._classes)} classes")
        return labels

    def _journal(self, key: str) -> None:
        """Notes ``key`` as changing before its mask does: if the program dies before the
        state and COCO files follow, opening the folder again redoes them for it."""
        if key not in self._pending:
            self._pending.add(key)
            files.write_json(self.folder, self.folder / files.STATE_DIR / files.PENDING_FILE,
                             sorted(self._pending))

    def _write_labels(self, key: str, labels: np.ndarray) -> None:
        self._journal(key)
        files.write_png(self.folder, self._mask_path(key), labels)
        self._coded[key] = files.coded(labels)

    def _write_index(self, force: bool = False) -> None:
        """The state, then the COCO copy (each whole), then the journal goes; only now and
        then while deferred."""
        self._dirty = True
        if self._deferred and not force and time.monotonic() - self._written_at < DEFER_S:
            return
        self._state["frames"] = self._frames
        files.write_json(self.folder, files.state_path(self.folder), self._state)
        self._write_coco()
        (self.folder / files.STATE_DIR / files.PENDING_FILE).unlink(missing_ok=True)
        self._pending.clear()
        self._written_at, self._dirty = time.monotonic(), False

    def _write_coco(self) -> None:
        names, colours = split_classes(self._classes)
        doc = files.coco_document(self._keys, self._coded, names, colours)
        files.write_json(self.folder, self.folder / "annotations.json", doc)

    def _read_coco(self) -> dict[str, files.Coded]:
        """Each labelled picture's RLEs, from our annotations.json; redone from the masks for
        the pictures the journal names (a crash cut their writes short) or where the two
        disagree on which pictures have masks (files deleted by hand)."""
        masks = {p.stem: p for p in (self.folder / "masks").glob("*.png")}
        by_stem = {Path(k).stem: k for k in self._keys}
        with_mask = {by_stem[s] for s in masks if s in by_stem}
        try:
            known = files.read_coded(files.read_json(self.folder / "annotations.json"),
                                     set(self._keys))
        except (InputError, KeyError, TypeError, ValueError):
            known = {}
        journal = self.folder / files.STATE_DIR / files.PENDING_FILE
        redo = set(files.read_json_list(journal)) if journal.is_file() else set()
        redo = (redo | (with_mask ^ known.keys())) & set(self._keys)
        self._pending |= redo
        out = {k: v for k, v in known.items() if k in with_mask and k not in redo}
        for key in redo & with_mask:
            out[key] = files.coded(files.read_mask(self._mask_path(key)))
        return out

    def _checked_frames(self) -> dict[str, dict]:
        """The state's frames for the pictures that have masks; a mask it does not know
        (written just before a crash) counts as carried with confidence 0."""
        saved = self._state.get("frames", {})
        return {k: saved.get(k, {"human": False, "confidence": 0.0}) for k in self._coded}


def read_draft(path: Path) -> tuple[str, np.ndarray, int] | None:
    """(key, mask, class id) of a draft file; None where there is none or it is not whole
    (copied in by hand): a draft is only a convenience."""
    try:
        with np.load(path, allow_pickle=False) as saved:
            shape = tuple(int(v) for v in saved["shape"])
            bits = np.unpackbits(saved["bits"], count=shape[0] * shape[1])
            return str(saved["key"]), bits.reshape(shape).astype(bool), int(saved["class_id"])
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, zipfile.BadZipFile):
        return None


def fill(folder: Path, state: dict, classes: tuple[LabelClass, ...], pictures: list[Path],
         video: Path | None, every: int, progress: Progress | None) -> None:
    """Writes a new label folder: the marker first (so what follows is known to be ours),
    the class files, the pictures or frames, then the marker says it is complete."""
    try:
        for sub in ("images", "masks", files.STATE_DIR):
            (folder / sub).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create label folder {folder}: {exc.strerror}") from None
    for stale in (folder / "images").iterdir():  # an unfinished earlier try's
        stale.unlink()
    files.write_json(folder, files.state_path(folder), state)
    files.write_classes(folder, *split_classes(classes))
    if video is not None:
        extract_frames(video, folder, every, progress)
    else:
        copy_pictures(pictures, folder, progress)
    state["complete"] = True
    files.write_json(folder, files.state_path(folder), state)


def natural(name: str) -> list:
    """Sort key putting ``img2`` before ``img10``, as file browsers do."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", name)]
