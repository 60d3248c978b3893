"""recon: nightly billing-versus-CRM reconciliation (see README and the data contract)."""

__version__ = "0.1.0"
