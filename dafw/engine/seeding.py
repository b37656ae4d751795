"""Seeds and random states: derived seeds, data-loader workers, and saving or restoring RNGs."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch


def derive_seed(*parts: int | str) -> int:
    """Derive a 63-bit seed from ``parts``, such as the recipe seed, a pair index and a name.

    The same parts always give the same seed, on every platform and Python run; strings
    are hashed with SHA-256 so Python's salted ``hash`` never enters.
    """
    words: list[int] = []
    for part in parts:
        if isinstance(part, str):
            digest = hashlib.sha256(part.encode()).digest()
            words.extend(int.from_bytes(digest[i : i + 4], "little") for i in range(0, 16, 4))
        else:
            words.extend([part & 0xFFFFFFFF, (part >> 32) & 0xFFFFFFFF])
    state = np.random.SeedSequence(words).generate_state(2, dtype=np.uint32)
    return (int(state[0]) | (int(state[1]) << 32)) & 0x7FFFFFFFFFFFFFFF


def seed_everything(seed: int) -> None:
    """Seed Python's ``random``, NumPy's global generator and torch (CPU and every GPU)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def worker_init_fn(worker_id: int) -> None:
    """Seed Python and NumPy in a data-loader worker from the seed torch gave that worker.

    torch seeds each worker from the loader's generator, so seeding the loader's
    ``generator`` is enough to make the workers' Python and NumPy draws reproducible.
    """
    seed = torch.initial_seed() % 2**32
    random.seed(seed)
    np.random.seed(seed)


def loader_generator(seed: int) -> torch.Generator:
    """Return a CPU generator seeded with ``seed``, for a DataLoader's ``generator``."""
    generator = torch.Generator()
    generator.manual_seed(seed)
    return generator


@contextmanager
def seeded_cpu_rng(seed: int) -> Iterator[None]:
    """Run the block with torch's CPU generator seeded by ``seed``, then restore it.

    Only the CPU default generator is touched; ``torch.manual_seed`` would also reseed the
    GPU generators, which the model's dropout draws from.
    """
    generator = torch.default_generator
    saved = generator.get_state()
    generator.manual_seed(seed)
    try:
        yield
    finally:
        generator.set_state(saved)


def capture_rng_state() -> dict[str, Any]:
    """Return the state of Python's, NumPy's and torch's generators as tensors and numbers.

    The result holds only tensors, lists and numbers, so a checkpoint that contains it loads
    with ``torch.load(..., weights_only=True)``.
    """
    version, python_words, gauss = random.getstate()
    kind, numpy_words, position, has_gauss, cached = np.random.get_state(legacy=True)
    state: dict[str, Any] = {
        "python": {
            "version": version,
            "state": torch.tensor(python_words, dtype=torch.int64),
            "gauss": gauss,
        },
        "numpy": {
            "kind": kind,
            "state": torch.from_numpy(numpy_words.astype(np.int64)),
            "position": int(position),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached),
        },
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        # NOTE: not run here (no GPU in the test environment).
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: dict[str, Any]) -> None:
    """Restore generators saved by ``capture_rng_state``."""
    python = state["python"]
    random.setstate((python["version"], tuple(python["state"].tolist()), python["gauss"]))

    numpy = state["numpy"]
    np.random.set_state(
        (
            numpy["kind"],
            numpy["state"].numpy().astype(np.uint32),
            numpy["position"],
            numpy["has_gauss"],
            numpy["cached_gaussian"],
        )
    )

    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        # NOTE: not run here (no GPU in the test environment).
        torch.cuda.set_rng_state_all(state["cuda"])
