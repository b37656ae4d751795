"""Registers the first-party relational modules."""

from __future__ import annotations

from dafw import hookimpl
from dafw.registry import Registrar
from dafw_plugins.relational.gcn import RingGCNParams, build_ring_gcn
from dafw_plugins.relational.identity import IdentityParams, build_identity
from dafw_plugins.relational.ring_gat import RingGATParams, build_ring_gat


@hookimpl
def dafw_register(registrar: Registrar) -> None:
    """Add ``ring_gat``, ``gcn`` and ``none``."""
    registrar.add(
        "relational",
        "ring_gat",
        summary="Multi-head graph attention over the ring graph of the batch (GAT-ADA)",
        params=RingGATParams,
        factory=build_ring_gat,
    )
    registrar.add(
        "relational",
        "gcn",
        summary="One symmetric-normalised graph convolution over the ring graph of the batch",
        params=RingGCNParams,
        factory=build_ring_gcn,
    )
    registrar.add(
        "relational",
        "none",
        summary="Identity: no message passing between samples",
        params=IdentityParams,
        factory=build_identity,
    )
