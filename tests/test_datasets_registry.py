"""Dataset plugin registration and the strictness of every parameter model."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from dafw.data import DataError
from tests.fixtures_data import build_reader, installed_plugins

DATASETS = ("ckplus", "digits", "expw", "fer2013", "image_folder", "jaffe", "rafdb", "sfew")


def test_every_dataset_is_registered() -> None:
    registry = installed_plugins().registries["dataset"]
    assert tuple(entry.name for entry in registry) == DATASETS
    for entry in registry:
        assert entry.origin.plugin == "datasets"
        assert entry.summary


@pytest.mark.parametrize("name", DATASETS)
def test_params_forbid_unknown_keys(name: str) -> None:
    model = installed_plugins().registries["dataset"].get(name).params
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        model.model_validate({"no_such_option": 1})


@pytest.mark.parametrize("name", DATASETS)
def test_params_are_described(name: str) -> None:
    model = installed_plugins().registries["dataset"].get(name).params
    for field_name, field in model.model_fields.items():
        assert field.description, f"{name}.{field_name} has no description"


def test_params_are_strict() -> None:
    model = installed_plugins().registries["dataset"].get("ckplus").params
    with pytest.raises(ValidationError):
        model.model_validate({"last_frames": "3"})
    with pytest.raises(ValidationError):
        model.model_validate({"test_fraction": 1.5})


def test_invalid_params_name_dataset_and_key() -> None:
    with pytest.raises(DataError, match="invalid parameters for dataset 'ckplus': last_frames"):
        build_reader("ckplus", "/tmp", last_frames=0)
