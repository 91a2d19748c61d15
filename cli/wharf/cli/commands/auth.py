"""Accounts: signup, login, logout, auth:whoami, auth:token."""

from __future__ import annotations

import re
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from wharf.cli import netrc_file, output, session, settings
from wharf.cli.client import Session, WharfClient
from wharf.cli.errors import ApiError, NotLoggedInError, WharfError
from wharf.cli.registry import add_command

ApiUrlOption = Annotated[
    str | None, typer.Option("--api", help="API URL, like http://HOST:5000 (remembered for later commands).")
]
CaOption = Annotated[
    Path | None,
    typer.Option(
        "--ca",
        help="Root certificate (PEM) to trust for an https:// API, such as the one `wharfd ca` prints; "
        "remembered, and given to git for the app's remote.",
    ),
]
PasswordStdinOption = Annotated[
    bool, typer.Option("--password-stdin", help="Read the password from the first line of standard input.")
]


def read_password(*, from_stdin: bool, confirm: bool) -> str:
    """One line from stdin for scripts, else a hidden prompt (twice when choosing a new password)."""
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=confirm, err=True)
    if not password:
        raise WharfError("The password is empty.")
    return password


def trusted_root(url: str, ca: Path | None) -> Path | None:
    """The root to verify ``url`` with: the one given, else the stored one when it is for this API."""
    if ca is not None:
        return ca
    config = settings.load_config()
    stored = config.get("ca_file")
    return Path(stored) if stored and config.get("api_url") == url else None


def remember_login(url: str, auth: Session, ca: Path | None) -> None:
    """Save the API URL (and the root it was verified with) in the config and the token in ~/.netrc,
    where `git push` will find it."""
    stored = settings.store_ca(ca) if ca is not None and ca != settings.stored_ca_path() else ca
    settings.save_config({"api_url": url, "ca_file": str(stored) if stored else None})
    netrc_file.write_entry(settings.api_host(url), auth["user"]["email"], auth["token"])


def login(
    api: ApiUrlOption = None,
    email: Annotated[str | None, typer.Option("--email", "-e", help="Account email.")] = None,
    password_stdin: PasswordStdinOption = False,
    ca: CaOption = None,
    otp: Annotated[
        str | None,
        typer.Option("--otp", help="Two-factor code (or a recovery code); asked for when needed."),
    ] = None,
) -> None:
    """Log in with your email and password; stores the token in ~/.netrc."""
    url = settings.normalize_api_url(api) if api else settings.api_url()
    if password_stdin and not email:
        raise WharfError("--password-stdin needs --email EMAIL.")
    address = email or typer.prompt("Email", err=True)
    password = read_password(from_stdin=password_stdin, confirm=False)
    with _readable(ca) as given:
        root = trusted_root(url, given)
        with session.client_for(url, ca=root) as client:
            auth = log_in(client, email=address, password=password, otp=otp, interactive=not password_stdin)
        remember_login(url, auth, root)
    output.line(f"Logged in as {auth['user']['email']}")


def log_in(client: WharfClient, *, email: str, password: str, otp: str | None, interactive: bool) -> Session:
    """Log in; when the account uses two-factor and no code was given, ask for one."""
    try:
        return client.login(email=email, password=password, otp=otp)
    except ApiError as error:
        if error.error_id != "otp_required" or otp:
            raise
        if not interactive:
            raise WharfError("This account uses two-factor authentication: pass --otp CODE.") from error
    code = typer.prompt("Two-factor code (or a recovery code)", err=True)
    return client.login(email=email, password=password, otp=code)


def signup(
    invite: Annotated[str, typer.Option("--invite", help="Beta invite code.")],
    email: Annotated[str, typer.Option("--email", "-e", help="Email for the new account.")],
    password_stdin: PasswordStdinOption = False,
    api: ApiUrlOption = None,
    ca: CaOption = None,
) -> None:
    """Create an account from a beta invite code, then log in."""
    url = settings.normalize_api_url(api) if api else settings.api_url()
    password = read_password(from_stdin=password_stdin, confirm=True)
    with _readable(ca) as given:
        root = trusted_root(url, given)
        with session.client_for(url, ca=root) as client:
            auth = client.signup(invite=invite.strip(), email=email, password=password)
        remember_login(url, auth, root)
    output.line(f"Signed up and logged in as {auth['user']['email']}")


@contextmanager
def _readable(ca: Path | None) -> Iterator[Path | None]:
    """A pipe such as `<(wharfd ca)` reads once: hold it in a temporary file to verify with and store."""
    if ca is None or ca.is_file():
        yield ca
        return
    try:
        pem = ca.read_bytes()
    except OSError as error:
        raise WharfError(f"Could not read {ca}: {error}.") from error
    with tempfile.TemporaryDirectory(prefix="wharf-ca-") as folder:
        copy = Path(folder) / "ca.pem"
        copy.write_bytes(pem)
        yield copy


def logout() -> None:
    """Revoke the stored token and remove it from ~/.netrc."""
    url = settings.api_url()
    host = settings.api_host(url)
    entry = netrc_file.read_entry(host)
    if entry is None or not entry.password:
        output.note("You are not logged in.")
        return
    with output.action("Logging out"):
        warning = revoke_token(url, entry.password)
        netrc_file.remove_entry(host)
    if warning:
        output.note(warning)


def revoke_token(url: str, token: str) -> str | None:
    """Revoke on the server; a failure is reported but never keeps the token on disk."""
    try:
        with session.client_for(url, token) as client:
            client.logout()
    except ApiError as error:
        if error.status == 401:
            return None
        return f"The token could not be revoked on the server: {error.format_message()}"
    except WharfError as error:
        return f"The token could not be revoked on the server: {error.format_message()}"
    return None


def whoami() -> None:
    """Display the email of the logged-in user."""
    with session.authenticated_client() as client:
        output.line(client.account()["email"])


DURATION = re.compile(r"(?:(\d+)([smhdw]))+")
DURATION_PART = re.compile(r"(\d+)([smhdw])")
UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_duration(text: str) -> int:
    """Seconds in a duration like 90m, 12h, 30d or 1w2d."""
    cleaned = text.strip().lower()
    if not DURATION.fullmatch(cleaned):
        raise WharfError(f"'{text}' is not a duration. Use a number and a unit: 90m, 12h, 30d or 1w.")
    return sum(int(n) * UNIT_SECONDS[unit] for n, unit in DURATION_PART.findall(cleaned))


def token(
    expires: Annotated[
        str | None,
        typer.Option(
            "--expires",
            help="Create a new token that stops working after this long (90m, 12h, 30d, 1w) and print it.",
        ),
    ] = None,
    description: Annotated[
        str, typer.Option("--description", help="Label of the new token (with --expires).")
    ] = "wharf auth:token",
) -> None:
    """Display the API token (for scripts: WHARF_API_TOKEN=$(wharf auth:token))."""
    if expires is not None:
        seconds = parse_duration(expires)
        with session.authenticated_client() as client:
            created = client.create_token(description=description, expires_in=seconds)
        output.note(f"Token {created['prefix']}... expires at {created['expires_at']}.")
        output.line(created["token"])
        return
    credentials = settings.stored_credentials(settings.api_url())
    if credentials is None:
        raise NotLoggedInError()
    output.line(credentials.token)


def register(app: typer.Typer) -> None:
    add_command(app, "login", login)
    add_command(app, "signup", signup)
    add_command(app, "logout", logout)
    add_command(app, "auth:whoami", whoami)
    add_command(app, "auth:token", token)
    add_command(app, "auth:login", login, hidden=True)
    add_command(app, "auth:logout", logout, hidden=True)
