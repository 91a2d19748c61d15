"""The components sharing the services process carry their names as OS thread names, and so do
the threads they start, so `top -H` (and /proc) tell their CPU time apart."""

from __future__ import annotations

import threading
from pathlib import Path

from wharf.platform.supervisor import Task, run_tasks


def os_thread_name() -> str:
    return Path(f"/proc/self/task/{threading.get_native_id()}/comm").read_text().strip()


def test_a_task_and_the_threads_it_starts_carry_its_name() -> None:
    stop = threading.Event()
    seen: dict[str, str] = {}

    def component(stopped: threading.Event) -> None:
        seen["task"] = os_thread_name()
        helper = threading.Thread(target=lambda: seen.setdefault("helper", os_thread_name()))
        helper.start()
        helper.join()
        stop.set()
        stopped.wait()

    assert run_tasks([Task("logshipper", component)], say=lambda _line: None, stop=stop) == 0

    assert seen == {"task": "logshipper", "helper": "logshipper"}


def test_a_long_name_is_cut_to_what_the_kernel_keeps() -> None:
    stop = threading.Event()
    seen: list[str] = []

    def component(stopped: threading.Event) -> None:
        seen.append(os_thread_name())
        stop.set()

    run_tasks([Task("a-component-with-a-long-name", component)], say=lambda _line: None, stop=stop)

    assert seen == ["a-component-wit"]
