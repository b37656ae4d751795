"""Any folder-per-class image tree, with or without split folders above the classes."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator

from dafw.classes import CANONICAL_CLASSES
from dafw.data import DataError, FileSource, ListedReader, Sample
from dafw.data.layout import (
    ClassMapper,
    ExtraClassPolicy,
    list_images,
    list_subfolders,
    require_dir,
    scan_class_folders,
)
from dafw_plugins.datasets.common import StrictParams, plural

NAME = "image_folder"
SUMMARY = "Folder-per-class image tree, optionally under split folders such as train/ and test/"


class ImageFolderParams(StrictParams):
    """Parameters of the ``image_folder`` dataset."""

    class_map: dict[str, str] = Field(
        default_factory=dict,
        description="class folder name -> class name, for folders not named after a class",
    )
    classes: list[str] | None = Field(
        None,
        min_length=1,
        description="class names the labels index, in order; defaults to the seven "
        "canonical expression classes",
    )
    splits: list[str] | None = Field(
        None,
        min_length=1,
        description="split folders under the root; by default every subfolder holding "
        "class folders is a split, and class folders directly under the root form 'all'",
    )
    extra_classes: ExtraClassPolicy = Field(
        "error",
        description="what to do with a folder whose class is not in 'classes': 'error' "
        "raises, 'drop' leaves it out and counts it in the report",
    )

    @field_validator("classes")
    @classmethod
    def _unique_classes(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and len(set(value)) != len(value):
            raise ValueError(f"class names must be unique, got {value}")
        return value


class ImageFolderReader(ListedReader):
    """Reads ``root/<split>/<class>/*`` or ``root/<class>/*`` (one split called ``all``)."""

    name = NAME

    def __init__(self, params: ImageFolderParams, root: Path) -> None:
        super().__init__(root)
        require_dir(root, "image folder root")
        self.classes = tuple(params.classes) if params.classes else CANONICAL_CLASSES
        split_dirs = find_split_dirs(root, params.splits)

        folder_names = {
            folder.name
            for split_dir in split_dirs.values()
            for folder in list_subfolders(split_dir)
        }
        mapper = ClassMapper(
            {name: self._class_name(name, params.class_map) for name in sorted(folder_names)},
            classes=self.classes,
            extra_classes=params.extra_classes,
        )
        ignored = 0
        for split, split_dir in split_dirs.items():
            items, skipped = scan_class_folders(split_dir, mapper)
            ignored += skipped
            self.split_samples[split] = [Sample(str(path), label) for path, label in items]
        self.dropped.update(mapper.dropped)
        self.source = FileSource(str(root))
        if ignored:
            self.notes.append(f"ignored {plural(ignored, 'file')} that are not images")

    def _class_name(self, folder: str, class_map: dict[str, str]) -> str:
        """Return the class of ``folder``: from the map, else the class of that name."""
        if folder in class_map:
            return class_map[folder]
        by_lower = {name.lower(): name for name in self.classes}
        return by_lower.get(folder.lower(), folder)


def find_split_dirs(root: Path, splits: list[str] | None) -> dict[str, Path]:
    """Return the split name and folder of every split under ``root``.

    Raises:
        DataError: A listed split folder is missing, or the tree mixes class folders and
            split folders so that the layout is ambiguous.
    """
    if splits is not None:
        return {split: require_dir(root / split, "split folder") for split in splits}
    subfolders = list_subfolders(root)
    if not subfolders:
        raise DataError(f"image folder root {root} contains no folder; expected class folders")
    holds_images = {folder.name: bool(list_images(folder)[0]) for folder in subfolders}
    empty = [f for f in subfolders if not holds_images[f.name] and not list_subfolders(f)]
    if empty:
        raise DataError(
            f"folder {empty[0]} contains neither image files nor class folders; remove it "
            "or add its images"
        )
    if all(holds_images.values()):
        return {"all": root}
    if not any(holds_images.values()):
        return {folder.name: folder for folder in subfolders}
    classes = sorted(name for name, has in holds_images.items() if has)
    others = sorted(name for name, has in holds_images.items() if not has)
    raise DataError(
        f"{root} mixes folders with images ({', '.join(classes)}) and folders with "
        f"subfolders ({', '.join(others)}); set 'splits' to the split folder names"
    )


PARAMS = ImageFolderParams


def build(params: ImageFolderParams, root: Path) -> ImageFolderReader:
    """Build the image-folder reader for the data root ``root``."""
    return ImageFolderReader(params, root)
