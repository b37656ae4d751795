"""RAF-DB basic emotion set: a label list and aligned or original images."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from dafw.data import DataError, FileSource, ListedReader, Sample
from dafw.data.layout import ClassMapper, require_dir, require_file
from dafw_plugins.datasets.common import StrictParams, plural

NAME = "rafdb"
SUMMARY = "RAF-DB basic emotions: EmoLabel/list_patition_label.txt with aligned or original images"

# RAF-DB numbers its seven basic emotions 1..7 in this order.
RAFDB_LABELS: dict[str, str] = {
    "1": "surprise",
    "2": "fear",
    "3": "disgust",
    "4": "happy",
    "5": "sad",
    "6": "angry",
    "7": "neutral",
}
SPLIT_PREFIXES: dict[str, str] = {"train_": "train", "test_": "test"}


class RafdbParams(StrictParams):
    """Parameters of the ``rafdb`` dataset."""

    variant: Literal["aligned", "original"] = Field(
        "aligned",
        description="'aligned' reads Image/aligned/<name>_aligned.jpg (100x100 faces), "
        "'original' reads Image/original/<name>",
    )
    label_file: str = Field(
        "EmoLabel/list_patition_label.txt",
        min_length=1,
        description="label list relative to the root (the file name is spelled 'patition' "
        "in the official release)",
    )


class RafdbReader(ListedReader):
    """RAF-DB with splits ``train`` and ``test``, taken from the image-name prefix."""

    name = NAME

    def __init__(self, params: RafdbParams, root: Path) -> None:
        super().__init__(root)
        require_dir(root, "RAF-DB root")
        label_file = require_file(
            root / params.label_file,
            "RAF-DB label list",
            "expected lines such as 'train_00001.jpg 5' (see docs/datasets.md)",
        )
        image_dir = require_dir(
            root / "Image" / params.variant, f"RAF-DB {params.variant} image folder"
        )
        present = {path.name for path in image_dir.iterdir()}

        mapper = ClassMapper(RAFDB_LABELS)
        self.split_samples = {"train": [], "test": []}
        seen: set[str] = set()
        missing: list[str] = []
        for line_number, line in enumerate(label_file.read_text().splitlines(), start=1):
            fields = line.split()
            if not fields:
                continue
            where = f"{label_file} line {line_number}"
            if len(fields) != 2:
                raise DataError(f"{where}: expected '<image name> <label 1-7>', found {line!r}")
            image_name, native = fields
            split = next((s for p, s in SPLIT_PREFIXES.items() if image_name.startswith(p)), None)
            if split is None:
                raise DataError(
                    f"{where}: image name {image_name!r} starts with neither 'train_' nor 'test_'"
                )
            if image_name in seen:
                raise DataError(f"{where}: image {image_name!r} is listed twice")
            seen.add(image_name)

            label = mapper.index(native, where)
            assert label is not None  # every RAF-DB label is one of the seven classes
            file_name = image_file_name(image_name, params.variant)
            if file_name not in present:
                missing.append(file_name)
                continue
            self.split_samples[split].append(Sample(str(image_dir / file_name), label))

        if missing:
            raise DataError(
                f"{plural(len(missing), 'image')} listed in {label_file} are missing from "
                f"{image_dir}, such as {', '.join(missing[:5])}"
            )
        if not seen:
            raise DataError(f"{label_file} lists no image")
        self.source = FileSource(str(image_dir))
        self.notes.append(f"{params.variant} images from {image_dir}; labels from {label_file}")


def image_file_name(image_name: str, variant: str) -> str:
    """Return the file name of ``image_name`` (``train_00001.jpg``) in the ``variant`` folder."""
    if variant == "original":
        return image_name
    stem, _, suffix = image_name.rpartition(".")
    return f"{stem}_aligned.{suffix}"


PARAMS = RafdbParams


def build(params: RafdbParams, root: Path) -> RafdbReader:
    """Build the RAF-DB reader for the data root ``root``."""
    return RafdbReader(params, root)
