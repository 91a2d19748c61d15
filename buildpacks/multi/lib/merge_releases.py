"""Usage: merge_releases.py RELEASE_YAML...

Prints one buildpack release document made from several, in order: later buildpacks override earlier
ones key by key for config_vars and default_process_types, and addons accumulate.
"""

import sys

import yaml

merged: dict = {"addons": [], "config_vars": {}, "default_process_types": {}}
for path in sorted(sys.argv[1:], key=lambda p: int(p.rsplit("-", 1)[1].split(".")[0])):
    with open(path) as release_file:
        release = yaml.safe_load(release_file) or {}
    merged["addons"] += [a for a in release.get("addons") or [] if a not in merged["addons"]]
    merged["config_vars"].update(release.get("config_vars") or {})
    merged["default_process_types"].update(release.get("default_process_types") or {})
print(yaml.safe_dump(merged, explicit_start=True, sort_keys=False), end="")
