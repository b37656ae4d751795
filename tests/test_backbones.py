"""Tests of the backbone plugins: shapes, weight loading without downloads, frozen BatchNorm."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torchvision
from pydantic import ValidationError

from dafw.errors import DafwError
from dafw.plugins import load_plugins
from dafw_plugins.backbones.weights import BackboneWeightsError


@pytest.fixture(scope="module")
def registries():
    return load_plugins().registries


@pytest.fixture
def hub_dir(tmp_path, monkeypatch):
    """Point the torch hub cache at an empty folder and make any download fail."""
    directory = tmp_path / "hub"
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(directory))

    def no_download(*args, **kwargs):
        raise AssertionError("a download was attempted")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", no_download)
    monkeypatch.setattr(torch.hub, "download_url_to_file", no_download)
    return directory


def build(registries, name, **params):
    entry = registries["backbone"].get(name)
    return entry.factory(entry.params.model_validate(params))


@pytest.mark.parametrize(
    ("name", "features"), [("resnet18", 512), ("resnet50", 2048), ("convnext_tiny", 768)]
)
def test_torchvision_backbone_shapes(registries, name, features):
    backbone = build(registries, name).eval()
    assert backbone.out_features == features
    with torch.no_grad():
        assert backbone(torch.randn(1, 3, 32, 32)).shape == (1, features)


@pytest.mark.parametrize(("width", "depth", "features"), [(8, 1, 16), (16, 3, 128), (4, 5, 7)])
def test_small_cnn_shapes(registries, width, depth, features):
    backbone = build(registries, "small_cnn", width=width, depth=depth, out_features=features)
    assert backbone.out_features == features
    assert backbone(torch.randn(2, 3, 8, 8)).shape == (2, features)
    assert backbone(torch.randn(2, 3, 33, 20)).shape == (2, features)


def test_small_cnn_params_validated(registries):
    params = registries["backbone"].get("small_cnn").params
    with pytest.raises(ValidationError):
        params.model_validate({"widht": 8})
    with pytest.raises(ValidationError):
        params.model_validate({"width": "8"})
    with pytest.raises(ValidationError):
        params.model_validate({"depth": 0})
    resnet_params = registries["backbone"].get("resnet18").params
    with pytest.raises(ValidationError):
        resnet_params.model_validate({"width": 8})


def test_missing_hub_weights_names_cache_path(registries, hub_dir):
    expected = hub_dir / "checkpoints" / "resnet18-f37072fd.pth"
    with pytest.raises(BackboneWeightsError) as raised:
        build(registries, "resnet18", pretrained="IMAGENET1K_V1")
    message = str(raised.value)
    assert str(expected) in message
    assert "never downloads" in message
    assert "local .pth" in message
    assert isinstance(raised.value, DafwError)


def test_default_weights_name_resolves(registries, hub_dir):
    with pytest.raises(BackboneWeightsError, match="resnet50-11ad3fa6.pth"):
        build(registries, "resnet50", pretrained="DEFAULT")
    with pytest.raises(BackboneWeightsError, match="convnext_tiny-983f1562.pth"):
        build(registries, "convnext_tiny", pretrained="IMAGENET1K_V1")


def test_unknown_weights_name_lists_known(registries, hub_dir):
    with pytest.raises(BackboneWeightsError, match="IMAGENET1K_V1, IMAGENET1K_V2"):
        build(registries, "resnet50", pretrained="IMAGENET21K")
    with pytest.raises(BackboneWeightsError, match="no published weights"):
        build(registries, "small_cnn", pretrained="IMAGENET1K_V1")


def test_hub_cache_weights_load(registries, hub_dir):
    reference = torchvision.models.resnet18(weights=None)
    path = hub_dir / "checkpoints" / "resnet18-f37072fd.pth"
    path.parent.mkdir(parents=True)
    torch.save(reference.state_dict(), path)

    backbone = build(registries, "resnet18", pretrained="IMAGENET1K_V1")
    assert torch.equal(backbone.body.conv1.weight, reference.conv1.weight)
    assert torch.equal(backbone.body.layer4[1].bn2.running_var, reference.layer4[1].bn2.running_var)


def test_missing_local_file_names_path(registries, tmp_path):
    missing = tmp_path / "weights" / "missing.pth"
    with pytest.raises(BackboneWeightsError, match=str(missing)):
        build(registries, "small_cnn", pretrained=str(missing))


def test_local_state_dict_round_trip(registries, tmp_path, monkeypatch):
    original = build(registries, "small_cnn", width=4, depth=2)
    with torch.no_grad():
        for parameter in original.parameters():
            parameter.uniform_(-1, 1)
    path = tmp_path / "small.pth"
    torch.save(original.state_dict(), path)

    calls = []
    real_load = torch.load

    def recording_load(*args, **kwargs):
        calls.append(kwargs.get("weights_only"))
        return real_load(*args, **kwargs)

    monkeypatch.setattr(torch, "load", recording_load)
    loaded = build(registries, "small_cnn", width=4, depth=2, pretrained=str(path))
    assert calls == [True]
    for key, value in original.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key


def test_classifier_keys_dropped(registries, tmp_path):
    reference = torchvision.models.convnext_tiny(weights=None)
    path = tmp_path / "convnext.pth"
    torch.save(reference.state_dict(), path)
    backbone = build(registries, "convnext_tiny", pretrained=str(path))
    # The LayerNorm of the head is kept; only the final Linear is removed.
    assert torch.equal(backbone.body.classifier[0].weight, reference.classifier[0].weight)
    assert isinstance(backbone.body.classifier[2], torch.nn.Identity)


def test_mismatched_state_dict_lists_keys(registries, tmp_path):
    path = tmp_path / "other.pth"
    torch.save({"conv.weight": torch.zeros(1), "fc.weight": torch.zeros(1)}, path)
    with pytest.raises(BackboneWeightsError) as raised:
        build(registries, "small_cnn", pretrained=str(path))
    message = str(raised.value)
    assert "unexpected keys [conv.weight]" in message
    assert "missing keys" in message
    assert "features.0.weight" in message


def test_unsafe_pickle_rejected(registries, tmp_path):
    path = tmp_path / "unsafe.pth"
    torch.save({"weights": Path("not a tensor")}, path)
    with pytest.raises(BackboneWeightsError, match="weights_only=True"):
        build(registries, "small_cnn", pretrained=str(path))


def test_freeze_bn_keeps_running_stats(registries):
    frozen = build(registries, "small_cnn", width=4, depth=2, freeze_bn=True)
    batch_norm = frozen.features[1]
    before = batch_norm.running_mean.clone()
    frozen.train()
    frozen(torch.randn(4, 3, 8, 8) + 3.0)
    assert frozen.training
    assert not batch_norm.training
    assert torch.equal(batch_norm.running_mean, before)

    free = build(registries, "small_cnn", width=4, depth=2)
    free.train()
    free(torch.randn(4, 3, 8, 8) + 3.0)
    assert not torch.equal(free.features[1].running_mean, before)


def test_freeze_bn_on_construction_and_parent_train(registries):
    frozen = build(registries, "resnet18", freeze_bn=True)
    assert not frozen.body.bn1.training
    parent = torch.nn.Sequential(frozen)
    parent.eval()
    parent.train()
    assert frozen.body.layer1[0].training
    assert not frozen.body.layer1[0].bn1.training
