"""The Airflow notifiers an alert is sent through, each configured by a connection id.

- HTTP (`HttpNotifier`, providers-http): the alert record POSTed as JSON to the connection's
  URL, e.g. `AIRFLOW_CONN_RECON_ALERT_HTTP='{"conn_type": "http", "host": "https://h/x"}'`;
- Slack (`SlackWebhookNotifier`, providers-slack): the record's `text` to an incoming
  webhook, connection type `slackwebhook` with the webhook URL as its password;
- e-mail (`SmtpNotifier`, providers-smtp): subject and text (HTML-escaped) to
  RECON_ALERT_EMAIL_TO through the SMTP connection.

Each notifier is tried on its own: one that fails is logged, the others still send.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Mapping
from typing import Any

from pipelines.settings import AlertSettings

log = logging.getLogger(__name__)

TIMEOUT_SECONDS = 10


def notifiers(record: Mapping[str, Any], targets: AlertSettings) -> list[Any]:
    """The configured notifiers, ready to send this record."""
    found: list[Any] = []
    if targets.http_conn_id:
        from airflow.providers.http.notifications.http import HttpNotifier

        found.append(
            HttpNotifier(
                http_conn_id=targets.http_conn_id,
                json=dict(record),
                extra_options={"timeout": TIMEOUT_SECONDS},
            )
        )
    if targets.slack_conn_id:
        from airflow.providers.slack.notifications.slack_webhook import SlackWebhookNotifier

        found.append(
            SlackWebhookNotifier(
                slack_webhook_conn_id=targets.slack_conn_id,
                text=record["text"],
                timeout=TIMEOUT_SECONDS,
            )
        )
    if targets.smtp_conn_id:
        from airflow.providers.smtp.notifications.smtp import SmtpNotifier

        found.append(
            SmtpNotifier(
                smtp_conn_id=targets.smtp_conn_id,
                to=list(targets.email_to),
                subject=f"recon alert: {record['cause']} for business date "
                f"{record['business_date'] or 'unknown'}",
                html_content=f"<p>{html.escape(record['text'])}</p>",
            )
        )
    return found


def send(record: Mapping[str, Any], targets: AlertSettings, context: Mapping[str, Any]) -> None:
    """Send the record through every configured notifier; never raises.

    `notify` is called rather than the notifier itself: that would render the record's
    text (an error message) as a Jinja template.
    """
    for notifier in notifiers(record, targets):
        name = type(notifier).__name__
        try:
            notifier.notify(context)
            log.info("alert sent through %s", name)
        except Exception as exc:
            log.warning("could not send the alert through %s: %s", name, exc)
