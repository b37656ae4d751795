"""JAFFE (Japanese Female Facial Expression): 213 TIFF images of 10 subjects, no split."""

from __future__ import annotations

import re
from pathlib import Path

from dafw.data import DataError, FileSource, ListedReader, Sample
from dafw.data.layout import ClassMapper, list_images, require_dir
from dafw_plugins.datasets.common import StrictParams, plural

NAME = "jaffe"
SUMMARY = "JAFFE 256x256 grey TIFFs named <subject>.<EXPR><n>.<id>.tiff; one 'all' split"

EXPRESSION_CODES: dict[str, str] = {
    "AN": "angry",
    "DI": "disgust",
    "FE": "fear",
    "HA": "happy",
    "NE": "neutral",
    "SA": "sad",
    "SU": "surprise",
}
FILE_NAME = re.compile(r"^(?P<subject>[A-Za-z]{2})\.(?P<code>[A-Za-z]{2})\d+\.\d+$")
RELEASE_FOLDER = "jaffe_db"


class JaffeParams(StrictParams):
    """Parameters of the ``jaffe`` dataset; it has none."""


class JaffeReader(ListedReader):
    """JAFFE with the single split ``all``, used both to adapt and to test."""

    name = NAME

    def __init__(self, params: JaffeParams, root: Path) -> None:
        super().__init__(root)
        folder = resolve_folder(root)
        images, ignored = list_images(folder)
        mapper = ClassMapper(EXPRESSION_CODES, ignore_case=True)

        samples: list[Sample] = []
        for path in images:
            match = FILE_NAME.match(path.stem)
            if match is None:
                raise DataError(
                    f"{path}: the file name does not follow the JAFFE pattern "
                    "<subject>.<EXPR><n>.<id>.tiff, such as KA.AN1.39.tiff"
                )
            label = mapper.index(match["code"], str(path))
            assert label is not None  # every JAFFE code is one of the seven classes
            samples.append(Sample(str(path), label, match["subject"].upper()))

        self.source = FileSource(str(folder))
        self.split_samples = {"all": samples}
        subjects = {sample.group for sample in samples}
        self.notes.append(
            f"JAFFE has no official split: 'all' ({plural(len(samples), 'image')} of "
            f"{len(subjects)} subjects) is both the adaptation set and the test set"
        )
        if ignored:
            self.notes.append(f"ignored {plural(ignored, 'file')} that are not images")


def resolve_folder(root: Path) -> Path:
    """Return the folder that contains the TIFF files: ``root`` itself or ``root/jaffe_db``.

    Raises:
        DataError: Neither folder contains an image.
    """
    require_dir(root, "JAFFE root")
    for folder in (root, root / RELEASE_FOLDER):
        if folder.is_dir() and list_images(folder)[0]:
            return folder
    raise DataError(
        f"no JAFFE image in {root} or {root / RELEASE_FOLDER}; expected files such as "
        "KA.AN1.39.tiff"
    )


PARAMS = JaffeParams


def build(params: JaffeParams, root: Path) -> JaffeReader:
    """Build the JAFFE reader for the data root ``root``."""
    return JaffeReader(params, root)
