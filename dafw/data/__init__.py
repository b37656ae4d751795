"""Dataset readers, preprocessing, the decode cache and torch datasets for dafw."""

from dafw.data.cache import (
    CACHE_MODES,
    DecodeCache,
    ImageStore,
    ProgressCallback,
    default_cache_dir,
    ensure_cache,
)
from dafw.data.datasets import LabelledDataset, UnlabelledDataset, pixels_to_tensor
from dafw.data.errors import ClassMismatchError, CorruptImageError, DataError
from dafw.data.layout import ClassMapper
from dafw.data.reader import (
    DatasetReader,
    DatasetReport,
    ListedReader,
    Sample,
    check_same_classes,
)
from dafw.data.sources import ArraySource, FileSource, ImageSource, decode_image_file
from dafw.data.transforms import TransformConfig, build_transforms, transforms_from_config

__all__ = [
    "CACHE_MODES",
    "ArraySource",
    "ClassMapper",
    "ClassMismatchError",
    "CorruptImageError",
    "DataError",
    "DatasetReader",
    "DatasetReport",
    "DecodeCache",
    "FileSource",
    "ImageSource",
    "ImageStore",
    "LabelledDataset",
    "ListedReader",
    "ProgressCallback",
    "Sample",
    "TransformConfig",
    "UnlabelledDataset",
    "build_transforms",
    "check_same_classes",
    "decode_image_file",
    "default_cache_dir",
    "ensure_cache",
    "pixels_to_tensor",
    "transforms_from_config",
]
