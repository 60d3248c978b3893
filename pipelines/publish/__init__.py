"""Publishing a night: the case files, the run summary and the HTML report."""

from pipelines.publish.files import money_by_currency, publish_night

__all__ = ["money_by_currency", "publish_night"]
