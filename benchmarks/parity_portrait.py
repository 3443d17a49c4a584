"""Parity of livesegment's portrait models against the ORIGINAL implementations, on real frames.

The originals run outside the project, each in its own environment, and exchange plain ``.npz``
files with it, so neither mediapipe nor the original SINet code is ever imported by livesegment:

1. project venv: decode the frames and the model-sized inputs (resized here, once, so every side
   sees the very same pixels)::

       python benchmarks/parity_portrait.py frames /tmp/parity/frames.npz

2. mediapipe, in a scratch venv WITHOUT the project (``python3 -m venv /work/scratch-mp &&
   /work/scratch-mp/bin/pip install mediapipe==0.10.14``)::

       /work/scratch-mp/bin/python benchmarks/parity_portrait.py mediapipe \\
           /tmp/parity/frames.npz /tmp/parity/mediapipe.npz

   ``solutions.selfie_segmentation`` (model_selection 0 = general 256x256, 1 = landscape
   144x256), a fresh instance per picture. Its graph has no temporal smoothing anyway
   (ImageToTensor -> Inference -> TensorsToSegmentation); ImageToTensor squashes the picture to
   the model size (keep_aspect_ratio false, bilinear warp) and the mask is resized back with
   bilinear interpolation. Two runs: the model-sized picture (the network alone: the warp is an
   identity there) and the full frame (the whole pipeline).

3. SINet, the original repository's own code (``fetch github:clovaai/ext_portrait_segmentation``,
   ``git --git-dir=... archive HEAD | tar -x -C /tmp/ext_portrait``), with any python that has
   torch and without livesegment on the path (run it from a scratch directory)::

       python benchmarks/parity_portrait.py sinet-original /tmp/parity/frames.npz \\
           /tmp/parity/sinet.npz --repo /tmp/ext_portrait

   ``models/SINet.py``'s ``Dnc_SINet(classes=2, p=2, q=8, chnn=1)`` with ``result/SINet/SINet.pth``
   and ``etc/Visualize_video.py``'s normalisation ``(bgr - mean) / std / 255``.

4. project venv: compare, print the tables, and (``--write-references``) save the originals'
   outputs for the test suite under ``tests/data/reference/``::

       python benchmarks/parity_portrait.py compare /tmp/parity [--write-references]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
GIF = SHARED / "media" / "head-pose-face-detection-female-and-male.gif"
MP4 = SHARED / "media" / "one-by-one-person-detection.mp4"
GIF_FRAMES = (0, 14, 28, 42)
MP4_FRAMES = (150, 420, 700, 1000)
SELFIE_INPUTS = {"mediapipe-selfie": (256, 256), "mediapipe-selfie-landscape": (144, 256)}
SINET_INPUT = (224, 384)   # the product's input for a 16:9 frame at size 224 (multiples of 32)
SINET_MEAN_BGR = (107.304565, 115.69884, 132.35703)   # etc/Visualize_video.py
SINET_STD_BGR = (63.97182, 65.1337, 68.29726)
REFERENCE_FRAMES = ("gif000", "gif028")               # kept for the tests (GIF: fast to decode)


def model_input(rgb: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
    """The one resize every side uses (cv2 INTER_AREA, the tests repeat it)."""
    import cv2

    return cv2.resize(rgb, (hw[1], hw[0]), interpolation=cv2.INTER_AREA)


def decode(path: Path, indices: tuple[int, ...]) -> dict[int, np.ndarray]:
    import av

    out = {}
    with av.open(str(path)) as container:
        for i, frame in enumerate(container.decode(video=0)):
            if i in indices:
                out[i] = frame.to_ndarray(format="rgb24")
            if i >= max(indices):
                break
    return out


def cmd_frames(args: argparse.Namespace) -> None:
    arrays = {}
    for tag, path, indices in (("gif", GIF, GIF_FRAMES), ("mp4", MP4, MP4_FRAMES)):
        for i, rgb in decode(path, indices).items():
            name = f"{tag}{i:03d}"
            arrays[f"full/{name}"] = rgb
            for model, hw in SELFIE_INPUTS.items():
                arrays[f"in/{model}/{name}"] = model_input(rgb, hw)
            arrays[f"in/sinet-portrait/{name}"] = model_input(rgb, SINET_INPUT)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, **arrays)
    print(f"wrote {args.out}: {len([k for k in arrays if k.startswith('full/')])} frames")


def cmd_mediapipe(args: argparse.Namespace) -> None:
    import mediapipe as mp

    data = np.load(args.frames)
    out = {"version": np.array(mp.__version__)}
    for selection, model in enumerate(SELFIE_INPUTS):
        for key in data.files:
            kind, *rest = key.split("/")
            if kind == "full" or (kind == "in" and rest[0] == model):
                name = rest[-1]
                with mp.solutions.selfie_segmentation.SelfieSegmentation(
                        model_selection=selection) as seg:
                    mask = seg.process(np.ascontiguousarray(data[key])).segmentation_mask
                stage = "net" if kind == "in" else "full"
                out[f"{stage}/{model}/{name}"] = np.asarray(mask, np.float32)
    np.savez_compressed(args.out, **out)
    print(f"wrote {args.out} (mediapipe {mp.__version__})")


def cmd_sinet_original(args: argparse.Namespace) -> None:
    import torch

    sys.path.insert(0, str(Path(args.repo).resolve()))
    from models.SINet import Dnc_SINet  # the original repository's module

    import contextlib
    import io

    with contextlib.redirect_stdout(io.StringIO()):   # the original prints its config
        model = Dnc_SINet(classes=2, p=2, q=8, chnn=1)
    state = torch.load(Path(args.repo) / "result" / "SINet" / "SINet.pth", map_location="cpu",
                       weights_only=True)
    model.load_state_dict(state, strict=True)
    model.eval()
    data = np.load(args.frames)
    out = {}
    for key in data.files:
        if key.startswith("in/sinet-portrait/"):
            img = data[key][:, :, ::-1].astype(np.float32)          # RGB -> BGR, as cv2 reads
            for j in range(3):
                img[:, :, j] -= SINET_MEAN_BGR[j]
            for j in range(3):
                img[:, :, j] /= SINET_STD_BGR[j]
            img /= 255
            x = torch.from_numpy(img.transpose(2, 0, 1).copy()).unsqueeze(0)
            with torch.no_grad():
                logits = model(x)[0].numpy()
            out[f"net/sinet-portrait/{key.rsplit('/', 1)[1]}"] = logits
    np.savez_compressed(args.out, **out)
    print(f"wrote {args.out} (torch {torch.__version__})")


def _ours_selfie(model: str):
    from livesegment.core.models.zoo import get_spec, load_model

    return load_model(get_spec(model))


def cmd_compare(args: argparse.Namespace) -> None:
    import cv2
    import torch

    from livesegment.core.frames import Frame
    from livesegment.core.segmenter import Segmenter

    work = Path(args.dir)
    frames = np.load(work / "frames.npz")
    mp_out = np.load(work / "mediapipe.npz")
    sinet_out = np.load(work / "sinet.npz")
    names = sorted(k.split("/")[1] for k in frames.files if k.startswith("full/"))
    report: dict[str, dict] = {"mediapipe_version": str(mp_out["version"])}
    reference = Path(__file__).resolve().parents[1] / "tests" / "data" / "reference"

    for model, hw in SELFIE_INPUTS.items():
        net = _ours_selfie(model)
        seg = Segmenter.create(model, "cpu")
        rows = {}
        for name in names:
            x = torch.from_numpy(frames[f"in/{model}/{name}"]).permute(2, 0, 1)[None].float()
            with torch.inference_mode():
                ours = torch.softmax(net(x / 255), 1)[0, 1].numpy()
            theirs = mp_out[f"net/{model}/{name}"]
            # The whole pipeline: frame -> our preprocess/model -> logits upsampled to the frame
            rgb = frames[f"full/{name}"]
            result = seg.infer(Frame(0, 0.0, np.ascontiguousarray(rgb[:, :, ::-1])))
            z = torch.nn.functional.interpolate(
                result.logits.float(), size=rgb.shape[:2], mode="bilinear",
                align_corners=False)
            ours_full = torch.softmax(z, 1)[0, 1].numpy()
            theirs_full = mp_out[f"full/{model}/{name}"]
            rows[name] = {
                "net_max_abs_diff": float(np.abs(ours - theirs).max()),
                "net_label_agreement": float(((ours > 0.5) == (theirs > 0.5)).mean()),
                "full_max_abs_diff": float(np.abs(ours_full - theirs_full).max()),
                "full_mean_abs_diff": float(np.abs(ours_full - theirs_full).mean()),
                "full_label_agreement": float(((ours_full > 0.5) == (theirs_full > 0.5)).mean()),
                "person_share": float((theirs_full > 0.5).mean()),
            }
            if args.write_references and name in REFERENCE_FRAMES:
                png = np.round(theirs * 255).astype(np.uint8)
                cv2.imwrite(str(reference / f"{model}_{name}.png"), png)
        report[model] = rows

    from livesegment.core.models.zoo import get_spec, load_model
    from livesegment.core.masks.preprocess import to_model_input

    spec = get_spec("sinet-portrait")
    net = load_model(spec)
    rows = {}
    for name in names:
        rgb = frames[f"in/sinet-portrait/{name}"]
        bgr = torch.from_numpy(np.ascontiguousarray(rgb[:, :, ::-1]))
        x = to_model_input(bgr, rgb.shape[:2], spec.mean, spec.std, torch.float32)
        with torch.inference_mode():
            ours = net(x)[0].numpy()
        theirs = sinet_out[f"net/sinet-portrait/{name}"]
        p_ours = torch.softmax(torch.from_numpy(ours), 0)[1].numpy()
        p_theirs = torch.softmax(torch.from_numpy(theirs), 0)[1].numpy()
        rows[name] = {
            "net_max_abs_logit_diff": float(np.abs(ours - theirs).max()),
            "net_max_abs_prob_diff": float(np.abs(p_ours - p_theirs).max()),
            "net_label_agreement": float((ours.argmax(0) == theirs.argmax(0)).mean()),
            "person_share": float((theirs.argmax(0) == 1).mean()),
        }
        if args.write_references and name in REFERENCE_FRAMES:
            cv2.imwrite(str(reference / f"sinet-portrait_{name}.png"),
                        np.round(p_theirs * 255).astype(np.uint8))
    report["sinet-portrait"] = rows

    for model in (*SELFIE_INPUTS, "sinet-portrait"):
        rows = report[model]
        keys = list(next(iter(rows.values())))
        print(f"\n{model}")
        print("frame   " + "  ".join(f"{k:>22}" for k in keys))
        for name, row in rows.items():
            print(f"{name:7} " + "  ".join(f"{row[k]:22.6f}" for k in keys))
        worst = {k: (max if "diff" in k else min)(r[k] for r in rows.values()) for k in keys}
        print("worst   " + "  ".join(f"{worst[k]:22.6f}" for k in keys))
    if args.write_references:
        (reference / "parity_portrait.json").write_text(json.dumps(report, indent=1) + "\n")


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    f = sub.add_parser("frames")
    f.add_argument("out")
    m = sub.add_parser("mediapipe")
    m.add_argument("frames")
    m.add_argument("out")
    s = sub.add_parser("sinet-original")
    s.add_argument("frames")
    s.add_argument("out")
    s.add_argument("--repo", required=True)
    c = sub.add_parser("compare")
    c.add_argument("dir")
    c.add_argument("--write-references", action="store_true")
    args = p.parse_args(argv)
    {"frames": cmd_frames, "mediapipe": cmd_mediapipe, "sinet-original": cmd_sinet_original,
     "compare": cmd_compare}[args.command](args)


if __name__ == "__main__":
    main()
