"""Extended Cohn-Kanade (CK+): the CK+48 class folders or the original sequences."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import Field

from dafw.data import DataError, FileSource, ListedReader, Sample
from dafw.data.layout import (
    ClassMapper,
    ExtraClassPolicy,
    list_images,
    list_subfolders,
    require_dir,
    scan_class_folders,
    split_groups,
)
from dafw_plugins.datasets.common import StrictParams, plural

NAME = "ckplus"
SUMMARY = "CK+ (Extended Cohn-Kanade): CK+48 class folders or the original labelled sequences"

CK48_FOLDERS: dict[str, str] = {
    "anger": "angry",
    "contempt": "contempt",
    "disgust": "disgust",
    "fear": "fear",
    "happy": "happy",
    "sadness": "sad",
    "surprise": "surprise",
    "neutral": "neutral",
}
# Codes of the Emotion/*_emotion.txt files of the original release.
EMOTION_CODES: dict[str, str] = {
    "0": "neutral",
    "1": "angry",
    "2": "contempt",
    "3": "disgust",
    "4": "fear",
    "5": "happy",
    "6": "sad",
    "7": "surprise",
}
FRAME_NAME = re.compile(r"^(S\d+)_(\d+)_(\d+)$")
IMAGES_DIR = "cohn-kanade-images"
EMOTION_DIR = "Emotion"


class CkplusParams(StrictParams):
    """Parameters of the ``ckplus`` dataset."""

    layout: Literal["auto", "ck48", "original"] = Field(
        "auto",
        description="'ck48' reads class folders (anger, contempt, ...); 'original' reads "
        "cohn-kanade-images/ and Emotion/; 'auto' picks whichever the root holds",
    )
    extra_classes: ExtraClassPolicy = Field(
        "drop",
        description="what to do with contempt, which is not a canonical class: 'drop' "
        "leaves it out and counts it in the report, 'error' raises",
    )
    last_frames: int = Field(
        3,
        ge=1,
        le=30,
        description="original layout: frames at the end of each labelled "
        "sequence that take its label",
    )
    first_frame_neutral: bool = Field(
        False,
        description="original layout: also use the first frame of each labelled sequence "
        "as a neutral image",
    )
    test_fraction: float = Field(
        0.2, ge=0.0, lt=1.0, description="fraction of subjects in the test split"
    )
    seed: int = Field(0, ge=0, description="seed of the subject split")


class CkplusReader(ListedReader):
    """CK+ with subject-disjoint splits ``train`` and ``test``, and ``all``.

    Subjects, not images, are drawn for the test split, so frames of one person never
    appear on both sides.
    """

    name = NAME

    def __init__(self, params: CkplusParams, root: Path) -> None:
        super().__init__(root)
        require_dir(root, "CK+ root")
        layout, base = resolve_layout(params.layout, root)
        if layout == "ck48":
            samples = self._read_ck48(base, params)
        else:
            samples = self._read_original(base, params)
        if not samples:
            raise DataError(f"CK+ at {base} has no image of a known class")
        self.source = FileSource(str(base))
        self._split_by_subject(samples, params)

    def _read_ck48(self, base: Path, params: CkplusParams) -> list[Sample]:
        mapper = ClassMapper(CK48_FOLDERS, extra_classes=params.extra_classes, ignore_case=True)
        items, ignored = scan_class_folders(base, mapper)
        self.dropped.update(mapper.dropped)
        if ignored:
            self.notes.append(f"ignored {plural(ignored, 'file')} that are not images")
        self.notes.append(f"CK+48 class folders at {base}")
        return [Sample(str(path), label, subject_of(path)) for path, label in items]

    def _read_original(self, base: Path, params: CkplusParams) -> list[Sample]:
        mapper = ClassMapper(EMOTION_CODES, extra_classes=params.extra_classes)
        neutral = mapper.class_index("neutral")
        samples: list[Sample] = []
        sequences = 0
        for label_file in sorted((base / EMOTION_DIR).glob("S*/*/*_emotion.txt")):
            subject, sequence = label_file.parent.parent.name, label_file.parent.name
            code = read_emotion_code(label_file)
            frames = sequence_frames(base / IMAGES_DIR / subject / sequence, label_file)
            sequences += 1

            first = 1 if params.first_frame_neutral and len(frames) > 1 else 0
            labelled = frames[max(first, len(frames) - params.last_frames) :]
            label = mapper.index(code, str(label_file), count=len(labelled))
            if label is not None:
                samples.extend(Sample(str(path), label, subject) for path in labelled)
            if first:
                samples.append(Sample(str(frames[0]), neutral, subject))

        if not sequences:
            raise DataError(
                f"{base / EMOTION_DIR} has no label file; expected files such as "
                "Emotion/S005/001/S005_001_00000011_emotion.txt"
            )
        self.dropped.update(mapper.dropped)
        self.notes.append(
            f"original CK+ at {base}: {sequences} labelled sequences, the last "
            f"{params.last_frames} frame(s) of each take its label"
            + ("; first frames are neutral" if params.first_frame_neutral else "")
        )
        return samples

    def _split_by_subject(self, samples: list[Sample], params: CkplusParams) -> None:
        subjects = {sample.group for sample in samples if sample.group}
        test_subjects = split_groups(subjects, params.test_fraction, params.seed)
        self.split_samples = {
            "train": [s for s in samples if s.group not in test_subjects],
            "test": [s for s in samples if s.group in test_subjects],
            "all": samples,
        }
        self.notes.append(
            f"subject split: {len(test_subjects)} of {len(subjects)} subjects form 'test' "
            f"(test_fraction={params.test_fraction}, seed={params.seed}); no subject is in "
            f"both 'train' and 'test'. Test subjects: {', '.join(sorted(test_subjects)) or 'none'}"
        )


def resolve_layout(layout: str, root: Path) -> tuple[str, Path]:
    """Return the layout found under ``root`` and the folder it starts at.

    Raises:
        DataError: The requested layout, or with ``auto`` either layout, is not found.
    """
    original = (root / IMAGES_DIR).is_dir() and (root / EMOTION_DIR).is_dir()
    ck48_base = root / "CK+48" if (root / "CK+48").is_dir() else root
    folder_names = {path.name.lower() for path in list_subfolders(ck48_base)}
    ck48 = bool(folder_names) and folder_names <= set(CK48_FOLDERS)

    if layout in ("auto", "original") and original:
        return "original", root
    if layout in ("auto", "ck48") and ck48:
        return "ck48", ck48_base
    expected = {
        "original": f"the folders {root / IMAGES_DIR} and {root / EMOTION_DIR}",
        "ck48": f"class folders ({', '.join(CK48_FOLDERS)}) in {root} or {root / 'CK+48'}",
    }
    expected_text = " or ".join(expected.values()) if layout == "auto" else expected[layout]
    found = ", ".join(sorted(folder_names)) or "no folder"
    raise DataError(f"CK+ root {root} does not contain {expected_text}; found: {found}")


def subject_of(path: Path) -> str:
    """Return the subject id (``S010``) of a frame file such as ``S010_004_00000017.png``.

    Raises:
        DataError: The name does not follow the CK+ pattern, so no subject split is possible.
    """
    match = FRAME_NAME.match(path.stem)
    if match is None:
        raise DataError(
            f"{path}: the file name does not follow the CK+ pattern "
            "S<subject>_<sequence>_<frame>, so its subject is unknown"
        )
    return match.group(1)


def read_emotion_code(label_file: Path) -> str:
    """Return the emotion code of an ``*_emotion.txt`` file as a string such as ``"3"``.

    Raises:
        DataError: The file does not hold a single whole number.
    """
    text = label_file.read_text().strip()
    try:
        value = float(text)
    except ValueError:
        raise DataError(
            f"{label_file}: expected one number such as 3.0000000e+00, found {text!r}"
        ) from None
    if not value.is_integer():
        raise DataError(f"{label_file}: the emotion code {text!r} is not a whole number")
    return str(int(value))


def sequence_frames(folder: Path, label_file: Path) -> list[Path]:
    """Return the frames of one sequence, sorted by name (the frame number).

    Raises:
        DataError: The sequence folder is missing or contains no image.
    """
    require_dir(folder, "CK+ sequence folder", f"{label_file} labels a sequence that has no frames")
    frames, _ = list_images(folder)
    if not frames:
        raise DataError(
            f"CK+ sequence folder {folder} contains no image, but {label_file} labels it"
        )
    return frames


PARAMS = CkplusParams


def build(params: CkplusParams, root: Path) -> CkplusReader:
    """Build the CK+ reader for the data root ``root``."""
    return CkplusReader(params, root)
