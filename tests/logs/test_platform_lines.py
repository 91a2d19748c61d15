"""Platform lines go through the writer the process installed, once their transaction commits."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from wharf.platform.logs.platform_lines import PlatformLines, log_after_commit
from wharf.platform.logs.stream import LogLine, LogWriter


class Recorder:
    def __init__(self) -> None:
        self.lines: list[LogLine] = []

    def write_many(self, lines: list[LogLine]) -> None:
        self.lines.extend(lines)


def installed(recorder: Recorder) -> PlatformLines:
    lines = PlatformLines(cast(LogWriter, cast(Any, recorder)))
    lines.install()
    return lines


def test_committed_lines_go_to_the_last_installed_writer_and_rolled_back_ones_nowhere() -> None:
    old, new = Recorder(), Recorder()
    first = installed(old)
    second = installed(new)
    engine = create_engine("sqlite://")
    try:
        with Session(engine) as session:
            log_after_commit(session, "app", "Scaled web to 2")
            session.commit()
            session.execute(text("select 1"))
            log_after_commit(session, "app", "never happened")
            session.rollback()
            session.commit()
    finally:
        first.uninstall()
        second.uninstall()
    assert [(line.app, line.source, line.line) for line in new.lines] == [("app", "api", "Scaled web to 2")]
    assert old.lines == []


def test_a_line_now_is_written_at_once() -> None:
    recorder = Recorder()
    lines = PlatformLines(cast(LogWriter, cast(Any, recorder)))
    lines.line("app", source="build", dyno="build", line="-----> ok")
    written = [(line.source, line.dyno, line.line) for line in recorder.lines]
    assert written == [("build", "build", "-----> ok")]
