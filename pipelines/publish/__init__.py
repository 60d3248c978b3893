"""Publishing a night: the case files, the run summary and the HTML report."""

from pipelines.publish.files import publish_night, published_summary
from pipelines.publish.totals import money_by_kind, money_by_kind_text

__all__ = ["money_by_kind", "money_by_kind_text", "publish_night", "published_summary"]
