"""Central moment discrepancy aligner, packaged as a dafw plugin."""

from dafw_cmd.cmd import CentralMomentDiscrepancy, CmdParams

__all__ = ["CentralMomentDiscrepancy", "CmdParams"]
