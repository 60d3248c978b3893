"""Publishing a night: the case files, the run summary and the HTML report."""

from pipelines.publish.files import publish_night, published_summary
from pipelines.publish.totals import money_by_kind, money_by_kind_text, not_priced

__all__ = [
    "money_by_kind",
    "money_by_kind_text",
    "not_priced",
    "publish_night",
    "published_summary",
]
