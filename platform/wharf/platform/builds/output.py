"""Build output as a Redis stream: written line by line by the build, followed live by `git push`.

The stream format lives in `wharf.platform.progress`, shared with deploy output. Each line also goes
to the app's log as `app[build]` when the build is given a `PlatformLines`, so `wharf logs` shows
builds among the rest.
"""

from __future__ import annotations

from collections import deque

import redis

from wharf.platform.db import session_scope
from wharf.platform.logs.platform_lines import PlatformLines
from wharf.platform.models import App, Build
from wharf.platform.progress import (
    MAX_STREAM_ENTRIES,
    BuildEnd,
    append_entry,
    end_fields,
    line_fields,
    stream_key,
)
from wharf.platform.textlines import truncate_line


class BuildOutput:
    def __init__(
        self,
        client: redis.Redis[bytes],
        build_id: int,
        app_name: str | None = None,
        *,
        platform_lines: PlatformLines | None = None,
        database_url: str | None = None,
    ) -> None:
        """`platform_lines` copies each line to the app's log; `database_url` finds the app if unnamed."""
        self._redis = client
        self._key = stream_key(build_id)
        self._build_id = build_id
        self._app_name = app_name
        self._platform_lines = platform_lines
        self._database_url = database_url
        # The build record keeps the last MAX_STREAM_ENTRIES lines (where a failure is), each cut.
        self._kept: deque[str] = deque(maxlen=MAX_STREAM_ENTRIES)
        self._written = 0

    @property
    def lines(self) -> list[str]:
        """The lines kept for the build record, with a note when earlier ones were dropped."""
        dropped = self._written - len(self._kept)
        note = [f" !     {dropped} earlier lines of output were dropped"] if dropped else []
        return note + list(self._kept)

    def write(self, line: str) -> None:
        line = truncate_line(line)
        self._kept.append(line)
        self._written += 1
        append_entry(self._redis, self._key, line_fields(line))
        if self._platform_lines is None:
            return
        app_name = self._resolve_app_name()
        if app_name:
            self._platform_lines.line(app_name, source="build", dyno="build", line=line)

    def _resolve_app_name(self) -> str | None:
        """The app the build belongs to, looked up once when the caller did not name it."""
        if self._app_name is None and self._database_url is not None:
            self._app_name = app_name_of_build(self._database_url, self._build_id) or ""
        return self._app_name

    def finish(self, end: BuildEnd) -> None:
        append_entry(self._redis, self._key, end_fields(end))


def app_name_of_build(database_url: str, build_id: int) -> str | None:
    with session_scope(database_url) as session:
        build = session.get(Build, build_id)
        app = session.get(App, build.app_id) if build is not None else None
        return app.name if app is not None else None
