"""Registers the first-party datasets with dafw."""

from __future__ import annotations

from dafw import hookimpl
from dafw_plugins.datasets import ckplus, digits, expw, fer2013, image_folder, jaffe, rafdb, sfew

DATASET_MODULES = (ckplus, digits, expw, fer2013, image_folder, jaffe, rafdb, sfew)


@hookimpl
def dafw_register(registrar) -> None:  # noqa: ANN001 - pluggy passes a dafw.registry.Registrar
    """Register every dataset of this package under the ``dataset`` kind."""
    for module in DATASET_MODULES:
        registrar.add(
            "dataset",
            module.NAME,
            summary=module.SUMMARY,
            params=module.PARAMS,
            factory=module.build,
        )
