"""Registers the first-party domain aligners."""

from __future__ import annotations

from dafw import hookimpl
from dafw.registry import Registrar
from dafw_plugins.aligners.coral import CoralParams, build_coral
from dafw_plugins.aligners.grl import DomainAdversarialParams, build_domain_adversarial
from dafw_plugins.aligners.mmd import MMDParams, build_mmd


@hookimpl
def dafw_register(registrar: Registrar) -> None:
    """Add ``grl``, ``coral`` and ``mmd``."""
    registrar.add(
        "aligner",
        "grl",
        summary="Domain-adversarial loss through a gradient reversal layer (DANN)",
        params=DomainAdversarialParams,
        factory=build_domain_adversarial,
    )
    registrar.add(
        "aligner",
        "coral",
        summary="Deep CORAL: squared Frobenius distance of the domain covariances",
        params=CoralParams,
        factory=build_coral,
    )
    registrar.add(
        "aligner",
        "mmd",
        summary="Biased multi-kernel Gaussian MMD between source and target features",
        params=MMDParams,
        factory=build_mmd,
    )
