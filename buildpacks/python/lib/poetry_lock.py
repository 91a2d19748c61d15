"""Usage: poetry_lock.py POETRY_LOCK PYPROJECT_TOML

Prints pinned requirements for the main dependency group of a Poetry project, so uv can install them
(uv reads uv.lock, not poetry.lock). Dev groups are left out, as `poetry install --only main` would.
"""

import re
import sys
import tomllib


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def main_requirements(pyproject: dict) -> set[str]:
    project = pyproject.get("project", {})
    names = {normalize(re.split(r"[\s\[<>=!~;(@]", dep, maxsplit=1)[0]) for dep in project.get("dependencies", [])}
    poetry_deps = pyproject.get("tool", {}).get("poetry", {}).get("dependencies", {})
    names |= {normalize(name) for name in poetry_deps if name.lower() != "python"}
    return names


def in_main_group(package: dict) -> bool | None:
    if "groups" in package:
        return "main" in package["groups"]
    if "category" in package:
        return package["category"] == "main"
    return None


def selected_packages(lock: dict, roots: set[str]) -> list[dict]:
    packages = {normalize(p["name"]): p for p in lock.get("package", [])}
    if all(in_main_group(p) is not None for p in packages.values()) and packages:
        return [p for p in packages.values() if in_main_group(p)]
    wanted, queue = set(), list(roots)
    while queue:
        name = queue.pop()
        if name in wanted or name not in packages:
            continue
        wanted.add(name)
        queue += [normalize(dep) for dep in packages[name].get("dependencies", {})]
    return [packages[name] for name in sorted(wanted)]


def requirement_line(package: dict) -> str | None:
    source = package.get("source", {})
    kind = source.get("type")
    if kind == "directory":
        return None
    if kind == "git":
        ref = source.get("resolved_reference") or source.get("reference", "")
        line = f"{package['name']} @ git+{source['url']}@{ref}"
    elif kind in ("url", "file"):
        line = f"{package['name']} @ {source['url']}"
    else:
        line = f"{package['name']}=={package['version']}"
    markers = package.get("markers")
    if isinstance(markers, str) and markers:
        line += f" ; {markers}"
    return line


def main() -> None:
    with open(sys.argv[1], "rb") as lock_file:
        lock = tomllib.load(lock_file)
    with open(sys.argv[2], "rb") as pyproject_file:
        pyproject = tomllib.load(pyproject_file)
    for package in selected_packages(lock, main_requirements(pyproject)):
        line = requirement_line(package)
        if line:
            print(line)


if __name__ == "__main__":
    main()
