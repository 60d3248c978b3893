"""Ingest: landing partitions checked against their manifest and the contract, then curated.

loaded = load_partition(landing, source, business_date, warehouse)  # or RejectedPartition
commit_partition(warehouse, loaded)
"""

from pipelines.ingest.landing import RejectedPartition
from pipelines.ingest.partition import LoadedPartition, commit_partition, load_partition
from pipelines.ingest.warehouse import history, ingest_stats, snapshot

__all__ = [
    "LoadedPartition",
    "RejectedPartition",
    "commit_partition",
    "history",
    "ingest_stats",
    "load_partition",
    "snapshot",
]
