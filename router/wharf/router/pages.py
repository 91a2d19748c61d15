"""The router's error pages (router/wharf/router/errors/*.html), for nginx's page variables and for the
waker, which answers the pages of a sleeping app itself. A page holds `$wharf_request_id` where the
request's id goes (an nginx variable); a page only the waker serves may hold other `$wharf_<name>` marks."""

from __future__ import annotations

import html
from importlib import resources


def error_page(name: str) -> str:
    """The page as nginx serves it, its request id still the `$wharf_request_id` variable."""
    return (resources.files("wharf.router") / "errors" / f"{name}.html").read_text(encoding="utf-8").strip()


def filled_error_page(name: str, values: dict[str, str]) -> str:
    """The page with each `$wharf_<name>` mark replaced by its value, for an answer made outside nginx."""
    page = error_page(name)
    for key, value in values.items():
        page = page.replace(f"$wharf_{key}", html.escape(value))
    return page
