"""`wharf run` in scripts and pipelines: no terminal unless the client has one, every byte of output,
stdout and stderr apart, piped input to its end, and the command's exit code.

Through the installed `wharf` command against real one-off dynos of one pushed app.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.utils.e2e import Wharf
from tests.utils.oneoff import PushedApp, attached_dynos, push_procfile_app, run_in_terminal, wait_until

pytestmark = pytest.mark.e2e

BEFORE_AND_AFTER_A_SLEEP = "echo A; sleep 2; echo B"


@pytest.fixture(scope="module")
def pushed(wharf: Wharf, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PushedApp]:
    pushed = push_procfile_app(wharf, tmp_path_factory.mktemp("run-scripts"))
    yield pushed
    pushed.developer.api.delete(f"/api/apps/{pushed.name}", params={"confirm": pushed.name})


def test_output_before_and_after_a_sleep_arrives_from_dev_null(pushed: PushedApp) -> None:
    done = pushed.run("sh", "-c", BEFORE_AND_AFTER_A_SLEEP)
    assert done.returncode == 0, done.stderr
    assert done.stdout == b"A\nB\n"


def test_output_before_and_after_a_sleep_arrives_from_a_pipe(pushed: PushedApp) -> None:
    done = pushed.run("sh", "-c", BEFORE_AND_AFTER_A_SLEEP, input=b"")
    assert done.returncode == 0, done.stderr
    assert done.stdout == b"A\nB\n"


def test_output_before_and_after_a_sleep_arrives_in_a_terminal(pushed: PushedApp) -> None:
    code, output = run_in_terminal(pushed.run_argv("sh", "-c", BEFORE_AND_AFTER_A_SLEEP), pushed.env())
    assert code == 0, output
    assert b"A\r\nB\r\n" in output
    assert b"up, run." in output


def test_piped_python_runs_and_its_output_and_exit_code_come_back(pushed: PushedApp) -> None:
    done = pushed.run("python3", input=b"print(6*7)\nimport sys; sys.exit(5)\n")
    assert done.returncode == 5, done.stderr
    assert done.stdout == b"42\n"


def test_stderr_stays_on_stderr_without_a_terminal(pushed: PushedApp) -> None:
    done = pushed.run("sh", "-c", "echo to-stdout; echo to-stderr >&2; exit 3")
    assert done.returncode == 3
    assert done.stdout == b"to-stdout\n"
    assert b"to-stderr\n" in done.stderr
    assert b"Running" in done.stderr and b"up, run." in done.stderr


def test_command_substitution_captures_the_commands_output_alone(pushed: PushedApp) -> None:
    script = 'x=$("$@"); printf "[%s]" "$x"'
    done = subprocess.run(
        ["sh", "-c", script, "sh", *pushed.run_argv("echo", "hi")],
        env=pushed.env(),
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == b"[hi]"


def test_a_terminal_only_when_the_client_has_one_and_never_with_no_tty(pushed: PushedApp) -> None:
    piped = pushed.run("sh", "-c", "tty || true")
    assert piped.stdout == b"not a tty\n"
    code, output = run_in_terminal(pushed.run_argv("tty"), pushed.env())
    assert code == 0 and b"/dev/pts/" in output, output
    code, output = run_in_terminal(
        pushed.run_argv("sh", "-c", "tty; exit 4", flags=("--no-tty",)), pushed.env()
    )
    assert code == 4 and b"not a tty" in output, output


def test_seq_five_million_lines_arrive_complete(pushed: PushedApp) -> None:
    done = pushed.run("seq", "1", "5000000")
    assert done.returncode == 0, done.stderr[-2000:]
    expected = subprocess.run(["seq", "1", "5000000"], capture_output=True, check=True).stdout
    assert done.stdout.count(b"\n") == 5_000_000
    assert hashlib.sha256(done.stdout).hexdigest() == hashlib.sha256(expected).hexdigest()


def test_fifty_megabytes_piped_through_cat_come_back_byte_exact(pushed: PushedApp, tmp_path: Path) -> None:
    data = os.urandom(50 * 1024 * 1024)
    source = tmp_path / "data.bin"
    source.write_bytes(data)
    with source.open("rb") as stdin:
        done = pushed.run("cat", stdin=stdin, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert len(done.stdout) == len(data)
    assert hashlib.sha256(done.stdout).digest() == hashlib.sha256(data).digest()


def test_a_closed_output_pipe_ends_the_session_and_its_dyno(pushed: PushedApp) -> None:
    done = subprocess.run(
        ["sh", "-c", '"$@" | head -n 1', "sh", *pushed.run_argv("sh", "-c", "yes")],
        env=pushed.env(),
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert done.stdout == b"y\n"
    assert wait_until(lambda: not attached_dynos(pushed.name), timeout=60), attached_dynos(pushed.name)
