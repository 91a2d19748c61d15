"""Property-based fuzzing of every API route in the OpenAPI document (schemathesis, in-process).

Two properties, on generated requests to each operation: no answer is a 5xx, and without a token no
route but the documented public ones (health, the CA root, signup, login) answers 2xx. The number of
examples per operation is kept small so that the run stays within a couple of minutes.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Err
from starlette.testclient import TestClient

from wharf.platform.actions.accounts import signup
from wharf.platform.actions.invites import create_invite
from wharf.platform.db import session_scope
from wharf.platform.migrate import upgrade_database
from wharf.platform.settings import Settings
from wharf.platform.web.main import create_app

PUBLIC = {
    ("GET", "/api/health"),
    ("GET", "/api/ca.pem"),
    ("POST", "/api/signup"),
    ("POST", "/api/login"),
    ("POST", "/api/waitlist"),
    ("POST", "/api/waitlist/confirm"),
    ("POST", "/api/password-reset"),
    ("POST", "/api/password-reset/confirm"),
}
# Both revoke the caller's own token, which would leave the rest of the run unauthenticated.
SELF_REVOKING = {("POST", "/api/logout"), ("DELETE", "/api/tokens/{token_id}")}
FUZZ_APP = "fuzzed-app"
MAX_EXAMPLES = 12


class FuzzTarget:
    def __init__(self, token: str) -> None:
        self.token = token

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@pytest.fixture(scope="module")
def fuzz_target(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[tuple[Any, FuzzTarget]]:
    data_dir: Path = tmp_path_factory.mktemp("fuzz-data")
    database_url = f"sqlite:///{data_dir / 'wharf.db'}"
    upgrade_database(database_url)
    config = Settings(
        wharf_data_dir=data_dir,
        database_url=database_url,
        redis_url=redis_url,
        wharf_secret_key=secrets.token_hex(32),
        wharf_runtime="fake",
        wharf_env="test",
    )
    with session_scope(database_url) as session:
        invite = create_invite(session=session, created_by=None, max_uses=1, grants_admin=True)
        _, issued = signup(
            session=session,
            invite_code=invite.code,
            email="fuzz@example.com",
            password="correct horse battery",
        )
        token = issued.secret
    app = create_app(config)
    yield app, FuzzTarget(token)


def check_operation(case: schemathesis.Case[Any], target: FuzzTarget) -> None:
    operation = (case.method.upper(), case.path)
    anonymous = case.call()
    assert anonymous.status_code < 500, (
        f"answered {anonymous.status_code} without a token: {anonymous.text[:200]}"
    )
    if operation not in PUBLIC:
        assert not 200 <= anonymous.status_code < 300, f"answered {anonymous.status_code} without a token"
    if operation in SELF_REVOKING:
        return
    if case.path_parameters and "app_name" in case.path_parameters:
        case.path_parameters["app_name"] = FUZZ_APP
    if case.query and case.query.get("tail"):
        case.query["tail"] = False  # a tail streams until the client leaves: not for an in-process client
    case.call_and_validate(headers=target.auth, checks=[not_a_server_error])


def test_no_route_fails_with_a_server_error_or_answers_without_a_token(
    fuzz_target: tuple[Any, FuzzTarget],
) -> None:
    app, target = fuzz_target
    with TestClient(app) as client:
        client.post("/api/apps", json={"name": FUZZ_APP}, headers=target.auth).raise_for_status()
    schema = schemathesis.openapi.from_asgi("/api/openapi.json", app)
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            failures.append(f"an operation of the OpenAPI document is invalid: {result.err()}")
            continue
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy())
        @settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
            phases=[Phase.explicit, Phase.generate],
        )
        def fuzz(case: schemathesis.Case[Any]) -> None:
            check_operation(case, target)

        try:
            fuzz()
        except Exception as error:  # every operation is tried; all failures are reported together
            failures.append(f"{operation.method.upper()} {operation.path}: {str(error)[:600]}")
    assert operations > 40
    assert not failures, "\n\n".join(failures)
