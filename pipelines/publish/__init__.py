"""Publishing a night: the case files, the run summary and the HTML report."""

from pipelines.publish.files import money_by_currency, publish_night, published_summary

__all__ = ["money_by_currency", "publish_night", "published_summary"]
