"""The model registry and safe, strict weight loading."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
import torch

from livesegment.core.models.espnetv2 import ESPNetv2
from livesegment.core.models.zoo import REGISTRY, get_spec, load_model, read_state_dict
from livesegment.errors import InputError, WeightsError

TORCHVISION = [n for n, s in REGISTRY.items() if s.weights.kind == "torchvision"]


@pytest.mark.parametrize(("name", "classes", "background", "multiple", "first", "last"), [
    ("espnetv2-voc", 21, 0, 32, "background", "tvmonitor"),
    ("espnetv2-cityscapes", 20, 19, 32, "road", "background"),
    ("lraspp-mobilenet-v3-large", 21, 0, 8, "background", "tvmonitor"),
    ("deeplabv3-resnet101", 21, 0, 8, "background", "tvmonitor"),
])
def test_registry_entries(name, classes, background, multiple, first, last):
    spec = get_spec(name)
    assert spec.num_classes == classes and len(spec.palette) == classes
    assert spec.categories[0] == first and spec.categories[-1] == last
    assert spec.categories[spec.background] == "background" and spec.background == background
    assert spec.size_multiple == multiple and spec.default_size % multiple == 0
    assert spec.licence


def test_torchvision_and_voc_share_class_order():
    voc = get_spec("espnetv2-voc").categories
    for name in TORCHVISION:
        assert get_spec(name).categories == voc


@pytest.mark.parametrize("name", ["espnetv2-voc", "espnetv2-cityscapes"])
def test_bundled_checkpoints_load_strictly(name):
    spec = get_spec(name)
    model = load_model(spec)
    state = read_state_dict(spec.weights.path())
    assert set(model.state_dict()) == set(state)  # every key used, none invented
    assert spec.weights.status() == "bundled"


def test_espnetv2_size_matches_the_paper():
    from torch.utils.flop_counter import FlopCounterMode

    model = ESPNetv2(21).eval()
    params = sum(p.numel() for p in model.parameters())
    with FlopCounterMode(display=False) as counter, torch.inference_mode():
        out = model(torch.zeros(1, 3, 384, 384))
    macs = counter.get_total_flops() / 2
    assert out.shape == (1, 21, 192, 192)
    assert 0.78e6 < params < 0.80e6  # 0.79 M published
    assert 0.74e9 < macs < 0.78e9    # "0.76 GFLOPs" counts multiply-adds


@pytest.mark.parametrize(("query", "message"), [
    ("espnet-voc", "did you mean 'espnetv2-voc'"),
    ("deeplab", "unknown model 'deeplab'"),
])
def test_unknown_model_suggests(query, message):
    with pytest.raises(InputError, match=message):
        get_spec(query)


@pytest.mark.parametrize(("query", "expected"), [
    ("person", 15), ("Person", 15), ("tv monitor", 20), ("potted-plant", 16),
])
def test_class_names_are_forgiving(query, expected):
    assert get_spec("espnetv2-voc").class_id(query) == expected


def test_class_typo_gets_a_suggestion():
    with pytest.raises(InputError, match="unknown class 'persn'.*did you mean 'person'"):
        get_spec("espnetv2-voc").class_id("persn")


@pytest.mark.parametrize("name", ["lraspp-mobilenet-v3-large", "deeplabv3-mobilenet-v3-large",
                                  "fcn-resnet50"])
def test_torchvision_architectures_run_untrained(name):
    """Pretrained weights cannot be fetched here: the plumbing is checked with weights=None."""
    spec = get_spec(name)
    model = spec.build(spec.num_classes).eval()
    with torch.inference_mode():
        out = model(torch.zeros(1, 3, 64, 96))
    assert out.shape == (1, 21, 64, 96)


def test_torchvision_weights_offline_error_names_model_cache_and_flag(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "hub"))
    monkeypatch.setattr(torch.hub, "_hub_dir", None, raising=False)
    torch.hub.set_dir(str(tmp_path / "hub"))

    def offline(*_a, **_k):
        raise OSError("<urlopen error [Errno -3] Temporary failure in name resolution>")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", offline)
    spec = get_spec("lraspp-mobilenet-v3-large")
    assert spec.weights.status() == "downloadable"
    with pytest.raises(WeightsError) as err:
        load_model(spec)
    text = str(err.value)
    assert "lraspp-mobilenet-v3-large" in text and "--weights" in text
    assert str(tmp_path / "hub" / "checkpoints") in text and "\n" not in text


def test_user_weights_for_a_torchvision_model_load(tmp_path):
    spec = get_spec("lraspp-mobilenet-v3-large")
    path = tmp_path / "mine.pth"
    torch.save(spec.build(21).net.state_dict(), path)
    model = load_model(spec, path)
    assert model(torch.zeros(1, 3, 32, 32)).shape == (1, 21, 32, 32)


class _RunsCode:
    def __reduce__(self):
        import os

        return (os.system, ("touch /tmp/livesegment-pwned",))


def _write(tmp_path: Path, name: str, payload) -> Path:
    path = tmp_path / name
    if isinstance(payload, bytes):
        path.write_bytes(payload)
    else:
        torch.save(payload, path)
    return path


@pytest.mark.parametrize(("make", "message"), [
    (lambda d: d / "absent.pth", "weights file not found"),
    (lambda d: _write(d, "noise.pth", bytes(range(256)) * 40), "is not a PyTorch weights file"),
    (lambda d: _write(d, "empty.pth", b""), "is not a PyTorch weights file"),
    (lambda d: _write(d, "list.pth", [torch.zeros(2)]), "holds no state dict"),
    (lambda d: _write(d, "other.pth", ESPNetv2(20).state_dict()),
     r"does not fit model espnetv2-voc: keys .*wrong shape"),
    (lambda d: _write(d, "resnet.pth", {"conv1.weight": torch.zeros(64, 3, 7, 7)}),
     r"does not fit model espnetv2-voc: keys \d+ missing \(e\.g\. base_net"),
])
def test_bad_weights_are_refused_clearly(tmp_path, make, message):
    with pytest.raises(WeightsError, match=message):
        load_model(get_spec("espnetv2-voc"), make(tmp_path))


def test_pickle_that_runs_code_is_refused_and_never_runs(tmp_path):
    marker = Path("/tmp/livesegment-pwned")
    marker.unlink(missing_ok=True)
    path = tmp_path / "evil.pth"
    with open(path, "wb") as fh:
        pickle.dump({"x": _RunsCode()}, fh)
    with pytest.raises(WeightsError, match="would run code"):
        load_model(get_spec("espnetv2-voc"), path)
    assert not marker.exists()
    zipped = tmp_path / "evil_zip.pth"
    torch.save({"x": _RunsCode()}, zipped)
    # torch's own scan of the checkpoint names what it would have imported
    with pytest.raises(WeightsError, match=r"would run code when loaded \(posix\.system\)"):
        load_model(get_spec("espnetv2-voc"), zipped)
    assert not marker.exists()


def test_without_torchvision_the_bundled_models_still_work():
    """A slim bundle (or a mismatched torchvision) must not take the default model down."""
    import subprocess
    import sys

    code = (
        "import builtins; real = builtins.__import__\n"
        "def block(name, *a, **k):\n"
        "    if name.startswith('torchvision'): raise ImportError('no torchvision')\n"
        "    return real(name, *a, **k)\n"
        "builtins.__import__ = block\n"
        "from livesegment.cli import main\n"
        "raise SystemExit(main(['models']))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    table = proc.stdout.split("\n\n")[0]
    names = [line.split()[0] for line in table.splitlines()[1:]]
    assert names == ["espnetv2-voc", "espnetv2-voc-fused", "espnetv2-cityscapes",
                     "mediapipe-selfie", "mediapipe-selfie-landscape", "sinet-portrait"]
