"""Image sources: label-free objects that decode images by sample key."""

from __future__ import annotations

import abc
import os
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from dafw.data.errors import CorruptImageError, DataError

IMAGE_EXTENSIONS: frozenset[str] = frozenset(
    {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".gif", ".pgm", ".ppm"}
)

# Modes that become one grey channel; every other mode without a palette becomes RGB.
_GREY_MODES = {"1", "L", "LA", "La"}
_WIDE_GREY_MODES = {"I", "I;16", "I;16B", "I;16L", "I;16N", "F"}


class ImageSource(abc.ABC):
    """Decodes the images of a dataset by sample key, without access to any label.

    Datasets keep only an image source, never the reader, so the unlabelled target set
    cannot reach a label. Sources are pickled into data-loader worker processes, so they
    should stay small: paths, boxes or pixel arrays, not open files.

    Attributes:
        identity (str): Stable description of what the source reads, such as its root and
            parameters; the disk cache names its folders after it.
    """

    identity: str = ""

    @abc.abstractmethod
    def load(self, key: str) -> np.ndarray:
        """Decode the image ``key`` as uint8 of shape ``(H, W, C)``, C in {1, 3}.

        Raises:
            CorruptImageError: The image exists but cannot be decoded.
            DataError: The image does not exist.
        """

    @abc.abstractmethod
    def fingerprint(self, key: str) -> str:
        """Return a string that changes whenever the image ``key`` may have changed."""

    def content_bytes(self, key: str) -> bytes:
        """Return the bytes that define the image, for finding exact duplicates.

        Defaults to the decoded pixels; file-based sources return the file's bytes.
        """
        pixels = self.load(key)
        return f"{pixels.shape}".encode() + pixels.tobytes()


class FileSource(ImageSource):
    """Decodes image files whose sample key is the absolute path.

    Args:
        identity (str): Stable description of the files, usually the dataset root.
    """

    def __init__(self, identity: str) -> None:
        self.identity = identity

    def load(self, key: str) -> np.ndarray:
        """Decode the file ``key`` with ``decode_image_file``."""
        return decode_image_file(Path(key))

    def fingerprint(self, key: str) -> str:
        """Return the path, modification time in nanoseconds and size of ``key``."""
        return file_fingerprint(Path(key))

    def content_bytes(self, key: str) -> bytes:
        """Return the raw bytes of the file ``key``."""
        try:
            return Path(key).read_bytes()
        except FileNotFoundError:
            raise DataError(f"image not found: {key}") from None


def file_fingerprint(path: Path) -> str:
    """Return ``path|mtime_ns|size`` for ``path``.

    Raises:
        DataError: The file does not exist.
    """
    try:
        status = os.stat(path)
    except FileNotFoundError:
        raise DataError(f"image not found: {path}") from None
    return f"{path}|{status.st_mtime_ns}|{status.st_size}"


def decode_image_file(path: Path, key: str | None = None) -> np.ndarray:
    """Decode the image file ``path`` into uint8 ``(H, W, C)`` pixels, C in {1, 3}.

    Grey images, grey palettes and 16-bit grey images give one channel; everything else
    gives RGB. Alpha channels are dropped.

    Args:
        path (Path): Image file.
        key (str | None): Name to use in errors. Defaults to the path.

    Raises:
        DataError: The file does not exist.
        CorruptImageError: The file exists but is not a readable image.
    """
    name = key or str(path)
    try:
        with Image.open(path) as image:
            image.load()
            return image_to_array(image)
    except FileNotFoundError:
        raise DataError(f"image not found: {name}") from None
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, SyntaxError) as error:
        # PIL reports truncated and malformed files as OSError or SyntaxError.
        raise CorruptImageError(name, f"{type(error).__name__}: {error}") from None


def image_to_array(image: Image.Image) -> np.ndarray:
    """Convert a PIL image to uint8 ``(H, W, C)`` pixels, C in {1, 3}."""
    mode = image.mode
    if mode in {"P", "PA"}:
        image = image.convert("L" if has_grey_palette(image) else "RGB")
    elif mode in _GREY_MODES:
        image = image.convert("L")
    elif mode in _WIDE_GREY_MODES:
        return _wide_grey_to_uint8(np.asarray(image), sixteen_bit=mode.startswith("I;16"))[
            :, :, None
        ]
    elif mode != "RGB":
        image = image.convert("RGB")

    # np.array copies, so the result is writable; np.asarray of a PIL image is read-only.
    pixels = np.array(image, dtype=np.uint8)
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    return np.ascontiguousarray(pixels)


def has_grey_palette(image: Image.Image) -> bool:
    """Return whether every colour of the palette of ``image`` has R == G == B."""
    palette = image.getpalette()
    if not palette:
        return False
    colours = np.asarray(palette, dtype=np.int32).reshape(-1, 3)
    return bool(np.all(colours[:, 0] == colours[:, 1]) and np.all(colours[:, 1] == colours[:, 2]))


def _wide_grey_to_uint8(values: np.ndarray, sixteen_bit: bool) -> np.ndarray:
    """Scale 16-bit, 32-bit integer or float grey pixels to uint8."""
    values = values.astype(np.float64)
    in_byte_range = values.size == 0 or (values.max() <= 255 and values.min() >= 0)
    if in_byte_range and not sixteen_bit:
        return np.round(values).astype(np.uint8)
    # NOTE: 32-bit and float images with values above 255 are read as 16-bit samples
    # (0..65535), as in the PNGs that PIL opens in mode "I". Other ranges are clipped.
    return np.clip(np.round(values / 257.0), 0, 255).astype(np.uint8)


class ArraySource(ImageSource):
    """Serves images held in one uint8 array of shape ``(N, H, W, C)``.

    Keys end in ``#row=<i>``, the position in the array, such as
    ``/data/fer2013/fer2013.csv#row=123``.

    Args:
        identity (str): Stable description of the pixels: their file, or the generator and
            its parameters. Used as the fingerprint when ``file`` is None.
        pixels (np.ndarray): uint8 images, shape ``(N, H, W, C)`` with C in {1, 3}.
        file (Path | None): File the pixels were read from; its modification time is part of
            every fingerprint. Defaults to None.
    """

    def __init__(self, identity: str, pixels: np.ndarray, file: Path | None = None) -> None:
        if pixels.dtype != np.uint8 or pixels.ndim != 4 or pixels.shape[-1] not in (1, 3):
            raise ValueError(
                f"pixels must be uint8 of shape (N, H, W, 1 or 3), got {pixels.dtype} "
                f"{pixels.shape}"
            )
        self.identity = identity
        self.pixels = pixels
        self.file = file

    @staticmethod
    def row_key(prefix: str, row: int) -> str:
        """Return the key of ``row`` for images listed under ``prefix``."""
        return f"{prefix}#row={row}"

    def row(self, key: str) -> int:
        """Return the array position encoded in ``key``.

        Raises:
            DataError: ``key`` does not end in ``#row=<i>`` with ``i`` in range.
        """
        _, marker, number = key.rpartition("#row=")
        if not marker or not number.isdigit() or int(number) >= len(self.pixels):
            raise DataError(
                f"invalid key {key!r} for {self.identity}: expected '...#row=<i>' with "
                f"0 <= i < {len(self.pixels)}"
            )
        return int(number)

    def load(self, key: str) -> np.ndarray:
        """Return a copy of the image at the row of ``key``."""
        return self.pixels[self.row(key)].copy()

    def fingerprint(self, key: str) -> str:
        """Return the file fingerprint (or the identity) followed by ``#row=<i>``."""
        base = file_fingerprint(self.file) if self.file is not None else self.identity
        return f"{base}#row={self.row(key)}"

    def content_bytes(self, key: str) -> bytes:
        """Return the shape and pixel bytes of the image at the row of ``key``."""
        pixels = self.pixels[self.row(key)]
        return f"{pixels.shape}".encode() + pixels.tobytes()
