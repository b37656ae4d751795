"""SFEW 2.0 (Static Facial Expressions in the Wild): Train/ and Val/ class folders."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from dafw.data import FileSource, ListedReader, Sample
from dafw.data.layout import ClassMapper, require_dir, scan_class_folders
from dafw_plugins.datasets.common import StrictParams, plural

NAME = "sfew"
SUMMARY = "SFEW 2.0 film frames: Train/ and Val/ with one folder per class"

SFEW_FOLDERS: dict[str, str] = {
    "Angry": "angry",
    "Disgust": "disgust",
    "Fear": "fear",
    "Happy": "happy",
    "Neutral": "neutral",
    "Sad": "sad",
    "Surprise": "surprise",
}


class SfewParams(StrictParams):
    """Parameters of the ``sfew`` dataset."""

    train_dir: str = Field(
        "Train", min_length=1, description="folder of the train split, relative to the root"
    )
    val_dir: str = Field(
        "Val", min_length=1, description="folder of the validation split, relative to the root"
    )


class SfewReader(ListedReader):
    """SFEW 2.0 with splits ``train`` and ``val``; the unlabelled test set is not read."""

    name = NAME

    def __init__(self, params: SfewParams, root: Path) -> None:
        super().__init__(root)
        require_dir(root, "SFEW root")
        mapper = ClassMapper(SFEW_FOLDERS, ignore_case=True)
        ignored = 0
        for split, folder in (("train", params.train_dir), ("val", params.val_dir)):
            split_dir = require_dir(root / folder, f"SFEW {split} folder")
            items, skipped = scan_class_folders(split_dir, mapper)
            ignored += skipped
            self.split_samples[split] = [Sample(str(path), label) for path, label in items]
        self.source = FileSource(str(root))
        if ignored:
            self.notes.append(f"ignored {plural(ignored, 'file')} that are not images")


PARAMS = SfewParams


def build(params: SfewParams, root: Path) -> SfewReader:
    """Build the SFEW 2.0 reader for the data root ``root``."""
    return SfewReader(params, root)
