"""Building a dataset reader from a registered dataset name, a root and parameters."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from dafw.data.errors import DataError
from dafw.data.reader import DatasetReader


def open_reader(
    name: str, root: str | Path, params: Mapping[str, Any] | None = None, plugins: Any = None
) -> DatasetReader:
    """Build the reader of the dataset type ``name`` registered by a plugin.

    Args:
        name (str): Registered dataset name, such as ``fer2013``.
        root (str | Path): Data root; relative paths are resolved against the working
            folder.
        params (Mapping[str, Any] | None): Dataset parameters, validated by the entry's
            parameter model. Defaults to none.
        plugins (PluginSet | None): Loaded plugins; None loads the installed ones.
            Defaults to None.

    Returns:
        DatasetReader: The reader.

    Raises:
        RegistryError: No plugin registers ``name``; the message lists the known names.
        DataError: The parameters are invalid, or the dataset cannot be read.
    """
    if plugins is None:
        from dafw.plugins import load_plugins

        plugins = load_plugins()
    entry = plugins.registries["dataset"].get(name)
    try:
        validated = entry.params.model_validate(dict(params or {}))
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in problem['loc']) or '(parameters)'}: {problem['msg']}"
            for problem in error.errors()
        )
        raise DataError(f"invalid parameters for dataset {name!r}: {problems}") from None

    reader = entry.factory(validated, Path(root).expanduser().resolve())
    if not isinstance(reader, DatasetReader):
        raise DataError(
            f"dataset {name!r} from {entry.origin} built a {type(reader).__name__}, "
            "not a dafw.data.DatasetReader"
        )
    return reader
