"""Request dependencies: the database session, the caller, and the app the caller may act on with
the role a route needs (`ViewerApp`, `MemberApp` = `AppDep`, `AdminApp`)."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Path, Request
from sqlalchemy.orm import Session

from wharf.platform.actions.accounts import user_for_token
from wharf.platform.actions.apps import get_owned_app
from wharf.platform.actions.roles import ADMIN, MEMBER, VIEWER
from wharf.platform.db import session_factory
from wharf.platform.errors import Unauthorized
from wharf.platform.models import ApiToken, App, User
from wharf.platform.web.context import ApiContext


def get_context(request: Request) -> ApiContext:
    context: ApiContext = request.app.state.context
    return context


ContextDep = Annotated[ApiContext, Depends(get_context)]

# Ids and version numbers in paths: a number no column can hold is a 422, not a database error.
MAX_ROW_ID = 2**31 - 1
RowId = Annotated[int, Path(ge=0, le=MAX_ROW_ID)]


def client_address(request: Request) -> str:
    """The caller's address, as failure limits key it."""
    return request.client.host if request.client else "unknown"


def get_session(context: ContextDep) -> Iterator[Session]:
    session = session_factory(context.database_url)()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


# Committed when the route function returns, before the response is sent, so that a client's next
# request sees what this one wrote.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]


def token_from_header(authorization: str | None) -> str | None:
    """The API token from `Bearer TOKEN` or HTTP basic with the token as password (what git sends)."""
    if not authorization:
        return None
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() == "bearer":
        return value.strip() or None
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None
        _, _, password = decoded.partition(":")
        return password or None
    return None


def get_current_token(request: Request, session: SessionDep) -> tuple[User, ApiToken]:
    secret = token_from_header(request.headers.get("authorization"))
    if secret is None:
        raise Unauthorized("Log in first: run `wharf login`, or pass a token in the Authorization header.")
    found = user_for_token(session=session, secret=secret)
    if found is None:
        raise Unauthorized("Invalid credentials provided. Run `wharf login` again.", error_id="invalid_token")
    return found


CurrentTokenDep = Annotated[tuple[User, ApiToken], Depends(get_current_token)]


def get_current_user(current: CurrentTokenDep) -> User:
    return current[0]


CurrentUser = Annotated[User, Depends(get_current_user)]


def get_app(app_name: str, session: SessionDep, user: CurrentUser) -> App:
    """The app when the caller is a member or admin of it (the default for routes that change it)."""
    return get_owned_app(session=session, user=user, name=app_name, role=MEMBER)


def get_viewer_app(app_name: str, session: SessionDep, user: CurrentUser) -> App:
    """The app when the caller holds any role on it: routes that only read."""
    return get_owned_app(session=session, user=user, name=app_name, role=VIEWER)


def get_admin_app(app_name: str, session: SessionDep, user: CurrentUser) -> App:
    """The app when the caller is its admin (or owner): access, add-ons, domains, drains, destroy."""
    return get_owned_app(session=session, user=user, name=app_name, role=ADMIN)


# Without a role the app answers 404 (its name is not confirmed); with too low a role, 403.
AppDep = Annotated[App, Depends(get_app)]
MemberApp = AppDep
ViewerApp = Annotated[App, Depends(get_viewer_app)]
AdminApp = Annotated[App, Depends(get_admin_app)]
