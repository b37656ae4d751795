"""Tests of the composed model, its prototype bank and the builders."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from dafw.components import AlignContext, Backbone
from dafw.model import (
    ComponentSpec,
    DAModel,
    ModelBuildError,
    ModelSpec,
    PrototypeSpec,
    build_component,
    build_model,
    count_parameters,
)
from dafw.plugins import load_plugins
from dafw.prototypes import EmptyPrototypeBankError, PrototypeBank
from dafw.registry import RegistryError
from dafw_plugins.relational.identity import IdentityRelational
from dafw_plugins.relational.ring_gat import RingGAT


@pytest.fixture(scope="module")
def registries():
    return load_plugins().registries


class MeanColourBackbone(Backbone):
    """Mean of each channel: ``(N, 3, H, W)`` to ``(N, 3)``."""

    out_features = 3

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return images.mean(dim=(2, 3))


def small_spec(relational: str = "ring_gat", **changes) -> ModelSpec:
    spec = ModelSpec(
        backbone=ComponentSpec("small_cnn", {"width": 4, "depth": 2, "out_features": 16}),
        relational=ComponentSpec(relational, {}),
        projection_dim=8,
    )
    for key, value in changes.items():
        setattr(spec, key, value)
    return spec


def test_prototype_ema_by_hand():
    bank = PrototypeBank(num_classes=3, dim=2, momentum=0.75)
    bank.update(torch.tensor([[1.0, 0.0], [3.0, 0.0], [0.0, 2.0]]), torch.tensor([0, 0, 1]))
    torch.testing.assert_close(bank.prototypes, torch.tensor([[2.0, 0.0], [0.0, 2.0], [0.0, 0.0]]))
    assert bank.counts.tolist() == [2, 1, 0]

    bank.update(torch.tensor([[4.0, 4.0], [1.0, 1.0]]), torch.tensor([0, 2]))
    # Class 0: 0.75 * [2, 0] + 0.25 * [4, 4]; class 2 is new and takes the batch mean.
    torch.testing.assert_close(bank.prototypes, torch.tensor([[2.5, 1.0], [0.0, 2.0], [1.0, 1.0]]))
    assert bank.counts.tolist() == [3, 1, 1]


def test_prototype_update_rejects_bad_labels():
    bank = PrototypeBank(num_classes=2, dim=2)
    with pytest.raises(ValueError, match=r"labels must be in \[0, 2\)"):
        bank.update(torch.zeros(1, 2), torch.tensor([2]))
    with pytest.raises(ValueError, match="labels must have shape"):
        bank.update(torch.zeros(2, 2), torch.tensor([0]))
    with pytest.raises(ValueError, match="embeddings must have shape"):
        bank.update(torch.zeros(2, 3), torch.tensor([0, 1]))


def test_prototype_nearest_skips_unseen_classes():
    bank = PrototypeBank(num_classes=4, dim=2)
    with pytest.raises(EmptyPrototypeBankError):
        bank.nearest(torch.ones(1, 2), k=3)
    bank.update(torch.tensor([[1.0, 0.0], [0.0, 1.0]]), torch.tensor([1, 3]))
    neighbours, classes = bank.nearest(torch.tensor([[1.0, 0.2], [-0.1, 1.0]]), k=3)
    assert classes.tolist() == [[1, 3], [3, 1]]
    torch.testing.assert_close(neighbours[0, 0], torch.tensor([1.0, 0.0]))
    assert neighbours.shape == (2, 2, 2)


def constructed_model(relational: nn.Module) -> DAModel:
    """A model where h is the mean colour and the logits are the relational output."""
    model = DAModel(MeanColourBackbone(), relational, num_classes=3, projection_dim=3, top_k=1)
    with torch.no_grad():
        model.projection[0].weight.copy_(torch.eye(3))
        model.projection[0].bias.zero_()
        model.classifier.weight.copy_(torch.eye(3))
        model.classifier.bias.zero_()
    model.update_prototypes(torch.eye(3), torch.tensor([0, 1, 2]))
    return model.eval()


@pytest.mark.parametrize("relational", ["none", "ring_gat"])
def test_predict_single_picks_nearest_prototype_class(relational):
    torch.manual_seed(0)
    module = IdentityRelational(3) if relational == "none" else RingGAT(3, heads=2)
    if relational == "ring_gat":
        with torch.no_grad():
            module.weight.copy_(torch.eye(3).expand(2, 3, 3))
    model = constructed_model(module)
    # Mean colour [0.2, 0.9, 0.1] is nearest (by cosine) to the prototype of class 1.
    image = torch.tensor([0.2, 0.9, 0.1]).view(1, 3, 1, 1).expand(1, 3, 4, 4)
    _, classes = model.prototypes.nearest(model.embed(image), k=1)
    assert classes.item() == 1
    assert model.predict_single(image).argmax(1).item() == 1


def test_predict_single_uses_forward_star(registries):
    torch.manual_seed(0)
    model = build_model(small_spec(), registries, num_classes=4)
    model.update_prototypes(torch.randn(8, 8), torch.tensor([0, 1, 2, 3, 0, 1, 2, 3]))
    model.eval()
    images = torch.randn(3, 3, 8, 8)
    with torch.no_grad():
        logits = model.predict_single(images)
        h = model.embed(images)
        neighbours, _ = model.prototypes.nearest(h, 3)
        expected = model.classifier(model.relational.forward_star(h, neighbours))
        torch.testing.assert_close(logits, expected)
        # Each image is classified on its own, so a batch equals one image at a time.
        for b in range(3):
            torch.testing.assert_close(model.predict_single(images[b : b + 1]), logits[b : b + 1])


def test_predict_single_empty_bank_raises(registries):
    model = build_model(small_spec(), registries, num_classes=4).eval()
    with pytest.raises(EmptyPrototypeBankError, match="prototype bank is empty"):
        model.predict_single(torch.randn(1, 3, 8, 8))


def test_forward_ring_over_batch(registries):
    torch.manual_seed(0)
    model = build_model(small_spec(), registries, num_classes=5).eval()
    images = torch.randn(4, 3, 8, 8)
    output = model(images)
    assert output.h.shape == (4, 8)
    assert output.z.shape == (4, 8)
    assert output.logits.shape == (4, 5)
    torch.testing.assert_close(output.z, model.relational(model.embed(images)))
    torch.testing.assert_close(output.logits, model.classifier(output.z))


def test_forward_domains_joint_batch_norm(registries):
    torch.manual_seed(0)
    model = build_model(small_spec(), registries, num_classes=3).train()
    source, target = torch.randn(4, 3, 8, 8), torch.randn(5, 3, 8, 8) + 2.0
    source_out, target_out = model.forward_domains(source, target)

    # One backbone call over both domains: BatchNorm uses the joint batch statistics.
    h = model.embed(torch.cat([source, target]))
    torch.testing.assert_close(source_out.h, h[:4])
    torch.testing.assert_close(target_out.h, h[4:])
    # The relational module runs on each domain's ring separately.
    torch.testing.assert_close(target_out.z, model.relational(h[4:]))
    assert not torch.allclose(source_out.h, model.embed(source))


def test_forward_domains_separate_batch_norm(registries):
    torch.manual_seed(0)
    model = build_model(small_spec(bn_policy="separate"), registries, num_classes=3).train()
    source, target = torch.randn(4, 3, 8, 8), torch.randn(5, 3, 6, 6) + 2.0
    source_out, target_out = model.forward_domains(source, target)
    torch.testing.assert_close(source_out.h, model.embed(source))
    torch.testing.assert_close(target_out.h, model.embed(target))
    torch.testing.assert_close(source_out.logits, model(source).logits)


def test_aligned_features_selects_h_or_z(registries):
    images = torch.randn(3, 3, 8, 8)
    projection = build_model(small_spec(), registries, num_classes=3).eval()
    output = projection(images)
    assert projection.aligned_features(output) is output.h
    relational = build_model(small_spec(align_features="relational"), registries, 3).eval()
    output = relational(images)
    assert relational.aligned_features(output) is output.z


def test_prototypes_saved_in_state_dict(registries, tmp_path):
    torch.manual_seed(0)
    spec = small_spec(prototypes=PrototypeSpec(momentum=0.8, top_k=2))
    model = build_model(spec, registries, num_classes=3)
    model.update_prototypes(torch.randn(6, 8), torch.tensor([0, 1, 2, 0, 1, 2]))
    path = tmp_path / "model.pt"
    torch.save(model.state_dict(), path)

    restored = build_model(spec, registries, num_classes=3)
    restored.load_state_dict(torch.load(path, weights_only=True))
    assert torch.equal(restored.prototypes.prototypes, model.prototypes.prototypes)
    assert torch.equal(restored.prototypes.counts, model.prototypes.counts)
    assert restored.prototypes.momentum == 0.8
    assert restored.top_k == 2
    image = torch.randn(1, 3, 8, 8)
    torch.testing.assert_close(
        restored.eval().predict_single(image), model.eval().predict_single(image)
    )


def test_update_prototypes_detaches(registries):
    model = build_model(small_spec(), registries, num_classes=3)
    output = model(torch.randn(3, 3, 8, 8))
    model.update_prototypes(output.h, torch.tensor([0, 1, 2]))
    assert not model.prototypes.prototypes.requires_grad


def test_build_model_errors(registries):
    bad_params = small_spec()
    bad_params.backbone = ComponentSpec("small_cnn", {"widht": 4})
    with pytest.raises(ModelBuildError, match="invalid parameters for backbone 'small_cnn'"):
        build_model(bad_params, registries, num_classes=3)
    unknown = small_spec(relational="gat")
    with pytest.raises(RegistryError, match="unknown relational 'gat'"):
        build_model(unknown, registries, num_classes=3)
    with pytest.raises(ValueError, match="bn_policy"):
        build_model(small_spec(bn_policy="mixed"), registries, num_classes=3)


def test_build_component_accepts_params_model(registries):
    entry = registries["aligner"].get("mmd")
    aligner = build_component(registries, "aligner", "mmd", entry.params(kernels=3), 8)
    assert aligner.kernels == 3
    aligner = build_component(registries, "aligner", "mmd", {"kernels": 2}, 8)
    assert aligner.kernels == 2


def test_count_parameters(registries):
    assert count_parameters(nn.Linear(3, 2)) == 8
    frozen = nn.Linear(3, 2)
    frozen.bias.requires_grad_(False)
    assert count_parameters(frozen, trainable_only=True) == 6

    model = build_model(small_spec(), registries, num_classes=7)
    backbone = count_parameters(model.backbone)
    # Projection 16 -> 8, ring_gat 4 heads of W (8 x 8) and a (16), classifier 8 -> 7.
    expected = backbone + (16 * 8 + 8) + 4 * (8 * 8 + 16) + (8 * 7 + 7)
    assert count_parameters(model) == expected


def test_published_resnet18_parameter_count(registries):
    spec = ModelSpec(backbone=ComponentSpec("resnet18"), relational=ComponentSpec("ring_gat"))
    model = build_model(spec, registries, num_classes=7)
    # torchvision ResNet-18 has 11,689,512 parameters, 513,000 of them in its fc layer.
    assert count_parameters(model.backbone) == 11_689_512 - 513_000
    assert count_parameters(model.relational) == 4 * (512 * 512 + 1024)
    assert count_parameters(model.projection) == 512 * 512 + 512


def test_training_step_under_bfloat16_autocast(registries):
    torch.manual_seed(0)
    model = build_model(small_spec(), registries, num_classes=3).train()
    aligners = [
        build_component(registries, "aligner", name, {}, model.projection_dim)
        for name in ("grl", "coral", "mmd")
    ]
    source, target = torch.randn(4, 3, 8, 8), torch.randn(4, 3, 8, 8)
    labels = torch.tensor([0, 1, 2, 1])
    context = AlignContext(step=0, total_steps=10)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        source_out, target_out = model.forward_domains(source, target)
        loss = nn.functional.cross_entropy(source_out.logits.float(), labels)
        for aligner in aligners:
            output = aligner(
                model.aligned_features(source_out), model.aligned_features(target_out), context
            )
            assert output.loss.dtype == torch.float32
            loss = loss + output.loss
    loss.backward()
    model.update_prototypes(source_out.h, labels)

    assert torch.isfinite(loss)
    assert all(
        torch.isfinite(parameter.grad).all()
        for parameter in model.parameters()
        if parameter.grad is not None
    )
    assert model.prototypes.prototypes.dtype == torch.float32
    model.eval()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert torch.isfinite(model.predict_single(source[:1])).all()
