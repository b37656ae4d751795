"""ExpW (Expression in-the-Wild): faces cropped from web photos by the boxes of label.lst."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pydantic import Field

from dafw.data import DataError, ImageSource, ListedReader, Sample, decode_image_file
from dafw.data.layout import ClassMapper, digest_names, require_dir, require_file, split_groups
from dafw.data.sources import file_fingerprint
from dafw_plugins.datasets.common import StrictParams, plural

NAME = "expw"
SUMMARY = "ExpW web photos: faces cropped by the boxes of label/label.lst, seeded photo split"

# Labels 0..6 of label.lst, in the order of the ExpW release.
EXPW_LABELS: dict[str, str] = {
    "0": "angry",
    "1": "disgust",
    "2": "fear",
    "3": "happy",
    "4": "sad",
    "5": "surprise",
    "6": "neutral",
}
Box = tuple[int, int, int, int]  # left, top, right, bottom, in pixels


class ExpwParams(StrictParams):
    """Parameters of the ``expw`` dataset."""

    label_file: str = Field(
        "label/label.lst", min_length=1, description="label list relative to the root"
    )
    image_dir: str = Field(
        "image/origin", min_length=1, description="folder of the photos relative to the root"
    )
    min_confidence: float = Field(
        0.0, description="drop faces whose detector confidence (7th column) is lower"
    )
    test_fraction: float = Field(
        0.2, ge=0.0, lt=1.0, description="fraction of photos whose faces form the test split"
    )
    seed: int = Field(0, ge=0, description="seed of the photo split")
    split_file: str | None = Field(
        None,
        min_length=1,
        description="file listing the photos of the test split, one name a line, relative "
        "to the root; replaces the seeded split",
    )


class ExpwSource(ImageSource):
    """Crops faces from photos; keys are ``<photo path>#face=<id>``.

    Args:
        identity (str): The photo folder.
        boxes (dict[str, tuple[str, Box]]): Photo path and face box of every key.
    """

    def __init__(self, identity: str, boxes: dict[str, tuple[str, Box]]) -> None:
        self.identity = identity
        self.boxes = boxes

    def _face(self, key: str) -> tuple[str, Box]:
        try:
            return self.boxes[key]
        except KeyError:
            raise DataError(f"unknown ExpW face key {key!r}") from None

    def load(self, key: str) -> np.ndarray:
        """Decode the photo of ``key`` and crop its face box, clipped to the photo."""
        path, (left, top, right, bottom) = self._face(key)
        photo = decode_image_file(Path(path), key)
        height, width = photo.shape[:2]
        left, right = max(0, left), min(width, right)
        top, bottom = max(0, top), min(height, bottom)
        if right <= left or bottom <= top:
            raise DataError(
                f"{key}: the face box lies outside the {width}x{height} photo; "
                "check the coordinates in label.lst"
            )
        return np.ascontiguousarray(photo[top:bottom, left:right])

    def fingerprint(self, key: str) -> str:
        """Return the photo fingerprint followed by the face id and box."""
        path, box = self._face(key)
        return f"{file_fingerprint(Path(path))}#{key.rpartition('#')[2]}:{box}"

    def content_bytes(self, key: str) -> bytes:
        """Return the photo bytes followed by the box, so two faces of one photo differ."""
        path, box = self._face(key)
        return Path(path).read_bytes() + repr(box).encode()


class ExpwReader(ListedReader):
    """ExpW with splits ``train`` and ``test``; all faces of one photo share a split."""

    name = NAME

    def __init__(self, params: ExpwParams, root: Path) -> None:
        super().__init__(root)
        require_dir(root, "ExpW root")
        label_file = require_file(
            root / params.label_file,
            "ExpW label list",
            "expected lines 'image_name face_id top left right bottom confidence label'",
        )
        image_dir = require_dir(root / params.image_dir, "ExpW photo folder")
        present = {path.name for path in image_dir.iterdir()}

        mapper = ClassMapper(EXPW_LABELS)
        samples: list[Sample] = []
        boxes: dict[str, tuple[str, Box]] = {}
        missing: set[str] = set()
        low_confidence = 0
        for line_number, line in enumerate(label_file.read_text().splitlines(), start=1):
            if not line.strip():
                continue
            where = f"{label_file} line {line_number}"
            photo, face_id, box, confidence, native = parse_line(line, where)
            label = mapper.index(native, where)
            assert label is not None  # every ExpW label is one of the seven classes
            if photo not in present:
                missing.add(photo)
                continue
            if confidence < params.min_confidence:
                low_confidence += 1
                continue
            key = f"{image_dir / photo}#face={face_id}"
            if key in boxes:
                raise DataError(f"{where}: face {face_id} of {photo} is listed twice")
            boxes[key] = (str(image_dir / photo), box)
            samples.append(Sample(key, label, photo))

        if missing:
            raise DataError(
                f"{plural(len(missing), 'photo')} listed in {label_file} are missing from "
                f"{image_dir}, such as {', '.join(sorted(missing)[:5])}"
            )
        if not samples:
            raise DataError(f"{label_file} lists no face that passes min_confidence")
        if low_confidence:
            self.dropped[f"confidence below {params.min_confidence}"] = low_confidence

        self.source = ExpwSource(str(image_dir), boxes)
        test_photos = self._test_photos(params, root, {s.group for s in samples if s.group})
        self.split_samples = {
            "train": [s for s in samples if s.group not in test_photos],
            "test": [s for s in samples if s.group in test_photos],
        }

    def _test_photos(self, params: ExpwParams, root: Path, photos: set[str]) -> set[str]:
        if params.split_file is not None:
            split_file = require_file(root / params.split_file, "ExpW split file")
            listed = {line.strip() for line in split_file.read_text().splitlines() if line.strip()}
            unknown = sorted(listed - photos)
            if unknown:
                raise DataError(
                    f"{split_file} lists {plural(len(unknown), 'photo')} that label.lst does "
                    f"not, such as {', '.join(unknown[:5])}"
                )
            origin = f"listed in {split_file}"
            test_photos = listed
        else:
            test_photos = split_groups(photos, params.test_fraction, params.seed)
            origin = f"drawn with test_fraction={params.test_fraction}, seed={params.seed}"
        self.notes.append(
            f"photo split: {len(test_photos):,} of {len(photos):,} photos form 'test' "
            f"({origin}); faces of one photo are never split. Test list digest "
            f"{digest_names(test_photos)} (sha256 of the sorted names, first 16 hex digits)"
        )
        return test_photos


def parse_line(line: str, where: str) -> tuple[str, str, Box, float, str]:
    """Parse one label.lst line into photo, face id, box, confidence and native label.

    Raises:
        DataError: The line does not have the eight fields, or the box is empty.
    """
    fields = line.split()
    if len(fields) != 8:
        raise DataError(
            f"{where}: expected 8 fields 'image_name face_id top left right bottom "
            f"confidence label', found {len(fields)}: {line!r}"
        )
    photo, face_id, top, left, right, bottom, confidence, native = fields
    try:
        box = (int(left), int(top), int(right), int(bottom))
        score = float(confidence)
    except ValueError:
        raise DataError(
            f"{where}: the box and confidence must be numbers, found {line!r}"
        ) from None
    if box[2] <= box[0] or box[3] <= box[1]:
        raise DataError(
            f"{where}: empty face box (left {left}, top {top}, right {right}, bottom {bottom})"
        )
    return photo, face_id, box, score, native


PARAMS = ExpwParams


def build(params: ExpwParams, root: Path) -> ExpwReader:
    """Build the ExpW reader for the data root ``root``."""
    return ExpwReader(params, root)
