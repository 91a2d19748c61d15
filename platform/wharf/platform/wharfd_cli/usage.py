"""`wharfd usage`: what each account used."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from wharf.platform.wharfd_cli.common import _settings

if TYPE_CHECKING:
    pass


def usage(
    as_json: Annotated[bool, typer.Option("--json", help="Print the usage as JSON.")] = False,
    days: Annotated[
        int, typer.Option("--days", min=1, max=31, help="How many days back, today included.")
    ] = 7,
) -> None:
    """Metered requests (API calls, git requests, log tails) per account per day."""
    import redis as redis_module
    from sqlalchemy import select

    from wharf.platform.db import session_scope
    from wharf.platform.metering.usage import all_usage
    from wharf.platform.models import User

    settings = _settings()
    client = redis_module.Redis.from_url(settings.resolved_redis_url)
    found = all_usage(client, installation=settings.installation_id, days=days)
    with session_scope(settings.resolved_database_url) as session:
        emails = {str(uid): email for uid, email in session.execute(select(User.id, User.email))}
    rows = [
        {"date": date, "account": emails.get(account, account), **day.to_json()}
        for date, per_account in found.items()
        for account, day in sorted(per_account.items(), key=lambda item: emails.get(item[0], item[0]))
    ]
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    from rich.table import Table

    table = Table("date", "account", "api", "git", "logs", "total")
    for row in rows:
        table.add_row(*(str(row[key]) for key in ("date", "account", "api", "git", "logs", "total")))
    Console().print(table)
