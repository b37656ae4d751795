"""Relational modules over a mini-batch: ring graph attention, ring GCN and the identity."""
