"""Failure notifications: Slack and Microsoft Teams incoming webhooks, SMTP email, signed generic webhook.

Messages are rendered from Jinja2 templates (``notifier_templates/`` or
``template_dir``) and carry the run link. Every secret is a config field meant
to be set with ``dg.EnvVar`` (webhook URLs, SMTP password, webhook signing
secret); nothing is hard-coded. A Slack or Teams incoming-webhook URL *is* a
credential, so error texts keep only the scheme and host of any URL
(:func:`redact_urls`).
"""

from __future__ import annotations

import re
import smtplib
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import dagster as dg
import httpx
import jinja2

from klikkflow_pipelines.events.signing import signed_headers

TEMPLATES = Path(__file__).with_name("notifier_templates")
CHANNELS = ("slack", "teams", "email", "oncall_email", "webhook")


_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>]+")


def _url_origin(match: re.Match[str]) -> str:
    try:
        parts = urlsplit(match.group(0))
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "<redacted url>"
    return f"{parts.scheme}://{host}{port}/<redacted>"


def redact_urls(text: str, secrets: Iterable[str | None] = ()) -> str:
    """``text`` with every URL cut to ``scheme://host[:port]/<redacted>`` and each of ``secrets`` masked.

    Incoming-webhook URLs carry their credential in the path (and sometimes in
    user-info or the query), so no part of a URL but its origin is kept.
    """
    text = _URL.sub(_url_origin, text)
    for secret in secrets:
        if secret:
            text = text.replace(secret, "<redacted>")
    return text


class DeliveryError(RuntimeError):
    """A notification could not be delivered (the delivery will be retried with backoff)."""


@dataclass(frozen=True)
class Alert:
    """What a failure notification says."""

    tenant: str
    workflow: str
    job_name: str
    run_id: str
    error: str
    event_id: str | None
    will_retry: bool
    consecutive_failures: int
    level: int
    opened_at: float
    escalated: bool = False
    run_url: str = ""
    subject: str = ""

    @property
    def opened_at_iso(self) -> str:
        """When the incident opened, ISO 8601 in UTC."""
        return datetime.fromtimestamp(self.opened_at, UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Message:
    """A rendered notification for one channel."""

    subject: str
    body: str


class NotifierResource(dg.ConfigurableResource):
    """Sends rendered alerts to the configured channels (unset channels are not configured)."""

    slack_webhook_url: str | None = None
    teams_webhook_url: str | None = None
    webhook_url: str | None = None
    webhook_secret: str | None = None
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = True
    email_from: str = "klikkflow@localhost"
    email_to: list[str] = []
    oncall_email_to: list[str] = []
    run_link_base: str = "http://localhost:3000"
    template_dir: str | None = None
    timeout_seconds: float = 10.0

    def configured_channels(self) -> list[str]:
        """The channels that have their settings."""
        configured = {
            "slack": bool(self.slack_webhook_url),
            "teams": bool(self.teams_webhook_url),
            "email": bool(self.smtp_host and self.email_to),
            "oncall_email": bool(self.smtp_host and self.oncall_email_to),
            "webhook": bool(self.webhook_url),
        }
        return [name for name in CHANNELS if configured[name]]

    def run_url(self, run_id: str) -> str:
        """Link to the run in the Dagster UI."""
        return f"{self.run_link_base.rstrip('/')}/runs/{run_id}"

    def render(self, channel: str, alert: Alert) -> Message:
        """Render ``alert`` for ``channel`` with the templates."""
        loaders: list[jinja2.BaseLoader] = [jinja2.FileSystemLoader(str(TEMPLATES))]
        if self.template_dir:
            loaders.insert(0, jinja2.FileSystemLoader(self.template_dir))
        env = jinja2.Environment(
            loader=jinja2.ChoiceLoader(loaders), autoescape=False, keep_trailing_newline=False
        )
        filled = Alert(**{**asdict(alert), "run_url": self.run_url(alert.run_id)})
        subject = env.get_template("subject.j2").render(alert=filled).strip()
        filled = Alert(**{**asdict(filled), "subject": subject})
        template = "email.j2" if channel in ("email", "oncall_email") else f"{channel}.j2"
        return Message(subject=subject, body=env.get_template(template).render(alert=filled).strip())

    def deliver(self, channel: str, message: Message) -> None:
        """Send one rendered message; raise :class:`DeliveryError` when the channel refuses it."""
        try:
            if channel == "slack":
                self._post(self._require(self.slack_webhook_url, channel), json={"text": message.body})
            elif channel == "teams":
                card: dict[str, Any] = {
                    "@type": "MessageCard",
                    "@context": "https://schema.org/extensions",
                    "summary": message.subject,
                    "themeColor": "D70000",
                    "title": message.subject,
                    "text": message.body,
                }
                self._post(self._require(self.teams_webhook_url, channel), json=card)
            elif channel == "webhook":
                body = message.body.encode()
                secret = self._require(self.webhook_secret, "webhook_secret").encode()
                self._post(
                    self._require(self.webhook_url, channel),
                    content=body,
                    headers=signed_headers(secret, body),
                )
            elif channel in ("email", "oncall_email"):
                self._send_email(self.email_to if channel == "email" else self.oncall_email_to, message)
            else:
                raise DeliveryError(f"unknown channel {channel!r}; use one of {', '.join(CHANNELS)}")
        except DeliveryError as error:
            raise DeliveryError(self.redact(str(error))) from None
        except (httpx.HTTPError, smtplib.SMTPException, OSError) as error:
            raise DeliveryError(self.redact(f"{channel}: {error}")) from None

    def redact(self, text: str) -> str:
        """``text`` without this notifier's webhook URLs, secrets or any other URL's path."""
        return redact_urls(
            text,
            [
                self.slack_webhook_url,
                self.teams_webhook_url,
                self.webhook_url,
                self.webhook_secret,
                self.smtp_password,
            ],
        )

    @staticmethod
    def _require(value: str | None, name: str) -> str:
        if not value:
            raise DeliveryError(f"channel {name!r} is not configured")
        return value

    def _post(self, url: str, **kwargs: Any) -> None:
        response = httpx.post(url, timeout=self.timeout_seconds, **kwargs)
        if response.status_code >= 300:
            raise DeliveryError(f"{url} answered {response.status_code}: {response.text[:200]}")

    def _send_email(self, recipients: list[str], message: Message) -> None:
        if not recipients:
            raise DeliveryError("no email recipients are configured")
        email = EmailMessage()
        email["Subject"] = message.subject
        email["From"] = self.email_from
        email["To"] = ", ".join(recipients)
        email.set_content(message.body)
        with smtplib.SMTP(
            self._require(self.smtp_host, "smtp_host"), self.smtp_port, timeout=self.timeout_seconds
        ) as smtp:
            if self.smtp_starttls:
                smtp.starttls()
            if self.smtp_username:
                smtp.login(self.smtp_username, self.smtp_password or "")
            smtp.send_message(email)
