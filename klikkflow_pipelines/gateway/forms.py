"""Reading the gateway's form posts and following their ``next`` safely."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from starlette.requests import Request

MAX_FORM_BYTES = 64 * 1024


def safe_next(value: str | None) -> str:
    """Only local absolute paths are followed after sign-in (no open redirects)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    parts = urlsplit(value)
    return "/" if parts.scheme or parts.netloc else value


async def read_form(request: Request) -> dict[str, str]:
    """The fields of an url-encoded form post (the only kind the gateway's pages send)."""
    if "application/x-www-form-urlencoded" not in request.headers.get("content-type", ""):
        return {}
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        return {}
    fields = parse_qs(body.decode("utf-8", errors="replace"), keep_blank_values=True)
    return {name: values[-1] for name, values in fields.items()}
