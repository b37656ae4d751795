"""Loading of backbone weights from the torch hub cache or a local file, never from the network."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlparse

import torch
from torch import nn
from torchvision.models import get_model_weights

from dafw.errors import DafwError

logger = logging.getLogger("dafw")

NO_WEIGHTS = "none"


class BackboneWeightsError(DafwError):
    """Pretrained backbone weights are missing, unknown or do not fit the architecture."""


def is_local_path(value: str) -> bool:
    """Return whether the ``pretrained`` value names a file rather than a weights enum name."""
    return "/" in value or "\\" in value or value.endswith((".pth", ".pt"))


def hub_cache_file(architecture: str, weights_name: str) -> tuple[Path, str]:
    """Return where torchvision would cache ``weights_name`` of ``architecture``, and its URL.

    Args:
        architecture (str): Torchvision model name, such as ``"resnet50"``.
        weights_name (str): Member of the model's weights enum, such as ``"IMAGENET1K_V1"``,
            or ``"DEFAULT"``.

    Raises:
        BackboneWeightsError: The name is not a weights name of ``architecture``.
    """
    weights_enum = get_model_weights(architecture)
    known = [member.name for member in weights_enum]
    if weights_name == "DEFAULT":
        weights = weights_enum.DEFAULT
    elif weights_name in known:
        weights = weights_enum[weights_name]
    else:
        raise BackboneWeightsError(
            f"unknown pretrained weights {weights_name!r} for {architecture}; expected 'none', "
            f"'DEFAULT', one of {', '.join(known)}, or the path of a local .pth file"
        )

    filename = Path(urlparse(weights.url).path).name
    return Path(torch.hub.get_dir()) / "checkpoints" / filename, weights.url


def resolve_weights_file(architecture: str | None, pretrained: str) -> Path | None:
    """Return the file that ``pretrained`` refers to, or None for ``"none"``.

    Args:
        architecture (str | None): Torchvision model name, or None for a backbone that has
            no published weights (only ``"none"`` and local paths are then valid).
        pretrained (str): The backbone's ``pretrained`` parameter.

    Raises:
        BackboneWeightsError: The file is missing or the name is unknown. The message names
            the exact file to provide.
    """
    if pretrained == NO_WEIGHTS:
        return None

    if is_local_path(pretrained):
        path = Path(pretrained).expanduser()
        if not path.is_file():
            raise BackboneWeightsError(
                f"pretrained weights file not found: {path.resolve()}; set 'pretrained' to an "
                "existing .pth state dict, or to 'none'"
            )
        return path

    if architecture is None:
        raise BackboneWeightsError(
            f"this backbone has no published weights, so pretrained={pretrained!r} is invalid; "
            "use 'none' or the path of a local .pth state dict"
        )

    path, url = hub_cache_file(architecture, pretrained)
    if not path.is_file():
        raise BackboneWeightsError(
            f"{architecture} weights {pretrained!r} are not in the torch hub cache: "
            f"{path} does not exist, and dafw never downloads weights. Copy {path.name} "
            f"(published at {url}) to {path}, or set 'pretrained' to the path of a local "
            ".pth file"
        )
    return path


def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """Read a state dict with ``torch.load(weights_only=True)``.

    Raises:
        BackboneWeightsError: The file cannot be read safely or is not a mapping of tensors.
    """
    try:
        loaded = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises several types for corrupt or unsafe files
        raise BackboneWeightsError(
            f"cannot read pretrained weights from {path} with weights_only=True: {error}"
        ) from error

    if not isinstance(loaded, Mapping) or not all(
        isinstance(value, torch.Tensor) for value in loaded.values()
    ):
        raise BackboneWeightsError(
            f"{path} does not contain a state dict (a mapping of parameter names to tensors)"
        )
    return dict(loaded)


def load_backbone_weights(
    module: nn.Module, path: Path, head_prefixes: tuple[str, ...] = ()
) -> None:
    """Load the state dict in ``path`` into ``module``.

    Keys under ``head_prefixes`` that ``module`` lacks (the removed classifier) are dropped.

    Args:
        module (nn.Module): Network to load into.
        path (Path): File written by ``torch.save(state_dict)``.
        head_prefixes (tuple[str, ...]): Prefixes of classifier keys to drop, such as
            ``("fc.",)``.

    Raises:
        BackboneWeightsError: Keys are missing or unexpected, or shapes differ.
    """
    state_dict = read_state_dict(path)
    own_keys = set(module.state_dict())
    dropped = [key for key in state_dict if key not in own_keys and key.startswith(head_prefixes)]
    for key in dropped:
        del state_dict[key]

    missing = sorted(own_keys - set(state_dict))
    unexpected = sorted(set(state_dict) - own_keys)
    if missing or unexpected:
        raise BackboneWeightsError(
            f"the state dict in {path} does not fit {type(module).__name__}: "
            f"{len(missing)} missing keys {preview(missing)}, "
            f"{len(unexpected)} unexpected keys {preview(unexpected)}"
        )

    try:
        module.load_state_dict(state_dict, strict=True)
    except RuntimeError as error:  # a shape mismatch
        raise BackboneWeightsError(
            f"the state dict in {path} does not fit {type(module).__name__}: {error}"
        ) from error
    logger.info(
        "loaded %d backbone tensors from %s (dropped %d classifier keys)",
        len(state_dict),
        path,
        len(dropped),
    )


def preview(keys: list[str], limit: int = 5) -> str:
    """Format up to ``limit`` keys for an error message."""
    listed = ", ".join(keys[:limit])
    more = f", ... ({len(keys) - limit} more)" if len(keys) > limit else ""
    return f"[{listed}{more}]"
