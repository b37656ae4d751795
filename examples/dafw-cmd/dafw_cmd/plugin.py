"""Registration of the CMD aligner with dafw."""

from dafw import hookimpl
from dafw_cmd.cmd import CmdParams, build


@hookimpl
def dafw_register(registrar) -> None:
    """Register the `cmd` aligner."""
    registrar.add(
        "aligner",
        "cmd",
        summary="Central moment discrepancy (Zellinger et al. 2017) up to order K",
        params=CmdParams,
        factory=build,
    )
