"""The `recon` command line (contract section 4)."""

from pipelines.cli.main import main

__all__ = ["main"]
