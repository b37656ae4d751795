"""FER2013 (ICML 2013 challenge): the original ``fer2013.csv`` or the image-folder release."""

from __future__ import annotations

import csv
import warnings
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import Field

from dafw.data import ArraySource, DataError, FileSource, ListedReader, Sample
from dafw.data.layout import ClassMapper, require_dir, scan_class_folders
from dafw_plugins.datasets.common import StrictParams, plural

NAME = "fer2013"
SUMMARY = "FER2013 48x48 grey faces, from fer2013.csv or the train/ and test/ image folders"

# Labels 0..6 of the "emotion" column, in the order of the original CSV.
CSV_LABELS: dict[str, str] = {
    "0": "angry",
    "1": "disgust",
    "2": "fear",
    "3": "happy",
    "4": "sad",
    "5": "surprise",
    "6": "neutral",
}
USAGE_SPLITS: dict[str, str] = {
    "Training": "train",
    "PublicTest": "public_test",
    "PrivateTest": "private_test",
}
FOLDER_CLASSES: tuple[str, ...] = (
    "angry", "disgust", "fear", "happy", "neutral", "sad", "surprise"
)  # fmt: skip
IMAGE_SIDE = 48


class Fer2013Params(StrictParams):
    """Parameters of the ``fer2013`` dataset."""

    layout: Literal["auto", "csv", "folders"] = Field(
        "auto",
        description="'csv' reads fer2013.csv, 'folders' reads train/ and test/ class "
        "folders; 'auto' takes the CSV when it exists, else the folders",
    )
    csv_file: str = Field(
        "fer2013.csv",
        min_length=1,
        description="CSV file name, relative to the root (also looked for in root/fer2013/)",
    )


class Fer2013Reader(ListedReader):
    """FER2013 with splits ``train``, ``test``, ``public_test`` and ``private_test``.

    ``test`` is the union of the public and private test sets. In the CSV the splits come
    from the ``Usage`` column. In the image-folder release ``test/`` mixes both test sets, and
    the ``PublicTest_``/``PrivateTest_`` file-name prefix separates them when every test file
    has one.
    """

    name = NAME

    def __init__(self, params: Fer2013Params, root: Path) -> None:
        super().__init__(root)
        layout, csv_path = resolve_layout(params, root)
        if layout == "csv":
            assert csv_path is not None
            self._read_csv(csv_path)
        else:
            self._read_folders(root)

    def _read_csv(self, path: Path) -> None:
        mapper = ClassMapper(CSV_LABELS)
        rows: dict[str, list[Sample]] = {split: [] for split in USAGE_SPLITS.values()}
        images: list[np.ndarray] = []
        with path.open(newline="") as handle:
            reader = csv.reader(handle)
            columns = _header_columns(next(reader, None), path)
            for row_number, row in enumerate(reader):
                if not row:
                    continue
                where = f"{path} row {row_number} (line {reader.line_num})"
                label, split, pixels = _parse_row(row, columns, where, mapper)
                key = ArraySource.row_key(str(path), len(images))
                images.append(pixels)
                rows[split].append(Sample(key=key, label=label))
        if not images:
            raise DataError(f"{path} has a header but no data row")

        self.source = ArraySource(str(path), np.stack(images), file=path)
        self.split_samples = {
            "train": rows["train"],
            "test": rows["public_test"] + rows["private_test"],
            "public_test": rows["public_test"],
            "private_test": rows["private_test"],
        }
        self.notes.append(
            f"read {path}: 'test' is public_test ({len(rows['public_test']):,} rows) plus "
            f"private_test ({len(rows['private_test']):,} rows); keys are "
            "'<csv>#row=<i>', i counting stored rows from 0"
        )

    def _read_folders(self, root: Path) -> None:
        mapper = ClassMapper({name: name for name in FOLDER_CLASSES}, ignore_case=True)
        self.source = FileSource(str(root))
        ignored = 0
        for split in ("train", "test"):
            items, skipped = scan_class_folders(
                require_dir(root / split, "FER2013 split folder"), mapper
            )
            ignored += skipped
            self.split_samples[split] = [Sample(str(path), label) for path, label in items]

        test = self.split_samples["test"]
        public = [s for s in test if Path(s.key).name.startswith("PublicTest_")]
        private = [s for s in test if Path(s.key).name.startswith("PrivateTest_")]
        if len(public) + len(private) == len(test):
            self.split_samples["public_test"] = public
            self.split_samples["private_test"] = private
            self.notes.append(
                "test/ mixes both test sets; public_test and private_test are separated by "
                f"the file-name prefix ({len(public):,} PublicTest_, {len(private):,} "
                "PrivateTest_)"
            )
        else:
            self.notes.append(
                "test/ has files without a PublicTest_/PrivateTest_ prefix, so only the "
                "combined 'test' split is available"
            )
        if ignored:
            self.notes.append(f"ignored {plural(ignored, 'file')} that are not images")


def resolve_layout(params: Fer2013Params, root: Path) -> tuple[str, Path | None]:
    """Decide between the CSV and the folder layout; return it and the CSV path.

    Raises:
        DataError: The requested layout, or with ``auto`` either layout, is not found.
    """
    candidates = [root / params.csv_file, root / "fer2013" / params.csv_file]
    if root.is_file():
        candidates.insert(0, root)
    csv_path = next((path for path in candidates if path.is_file()), None)
    has_folders = (root / "train").is_dir() and (root / "test").is_dir()

    if params.layout in ("auto", "csv") and csv_path is not None:
        return "csv", csv_path
    if params.layout in ("auto", "folders") and has_folders:
        return "folders", None
    if not root.exists():
        raise DataError(f"FER2013 root {root} does not exist")
    expected_layouts = {
        "csv": f"a CSV file at {' or '.join(map(str, candidates))}",
        "folders": f"the folders {root / 'train'} and {root / 'test'}",
    }
    if params.layout == "auto":
        expected = f"{expected_layouts['csv']}, or {expected_layouts['folders']}"
    else:
        expected = expected_layouts[params.layout]
    raise DataError(f"FER2013 root {root} does not contain {expected}")


def _header_columns(header: list[str] | None, path: Path) -> dict[str, int]:
    """Return the positions of the emotion, pixels and Usage columns of the header."""
    if header is None:
        raise DataError(f"{path} is empty; expected the header 'emotion,pixels,Usage'")
    names = [name.strip().lower() for name in header]
    missing = [column for column in ("emotion", "pixels", "usage") if column not in names]
    if missing:
        raise DataError(
            f"{path} has the columns {header} but lacks {', '.join(missing)}; expected the "
            "original FER2013 header 'emotion,pixels,Usage'"
        )
    columns = {column: names.index(column) for column in ("emotion", "pixels", "usage")}
    columns["width"] = len(header)
    return columns


def _parse_row(
    row: list[str], columns: dict[str, int], where: str, mapper: ClassMapper
) -> tuple[int, str, np.ndarray]:
    """Parse one CSV row into its label, split name and ``(48, 48, 1)`` pixels."""
    if len(row) != columns["width"]:
        raise DataError(f"{where}: expected {columns['width']} fields, found {len(row)}")

    label = mapper.index(row[columns["emotion"]].strip(), where)
    assert label is not None  # every CSV label is one of the seven classes

    usage = row[columns["usage"]].strip()
    if usage not in USAGE_SPLITS:
        raise DataError(
            f"{where}: unknown Usage {usage!r}; expected one of: {', '.join(USAGE_SPLITS)}"
        )

    text = row[columns["pixels"]]
    expected = IMAGE_SIDE * IMAGE_SIDE
    tokens = len(text.split())
    if tokens != expected:
        raise DataError(f"{where}: expected {expected} pixel values (48x48), found {tokens}")
    with warnings.catch_warnings():
        # Older numpy versions warn and stop at the first token that is not a number,
        # newer ones raise; the size check covers the first case.
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            values = np.fromstring(text, dtype=np.int32, sep=" ")
        except ValueError:
            values = np.empty(0, dtype=np.int32)
    if values.size != expected:
        raise DataError(f"{where}: the pixel values must be whole numbers separated by spaces")
    if values.min() < 0 or values.max() > 255:
        raise DataError(
            f"{where}: pixel values must be in 0..255, found {values.min()}..{values.max()}"
        )
    pixels = values.astype(np.uint8).reshape(IMAGE_SIDE, IMAGE_SIDE, 1)
    return label, USAGE_SPLITS[usage], pixels


PARAMS = Fer2013Params


def build(params: Fer2013Params, root: Path) -> Fer2013Reader:
    """Build the FER2013 reader for the data root ``root``."""
    return Fer2013Reader(params, root)
