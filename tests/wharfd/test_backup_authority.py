"""`wharfd backup` → wiped host → `wharfd restore`: the same local CA root, its keys still private."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes

from wharf.platform.security.authority import authority_paths

WHARFD = [sys.executable, "-m", "wharf.platform.wharfd"]


def wharfd(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "WHARF_DATA_DIR": str(data_dir)}
    env.pop("DATABASE_URL", None)
    done = subprocess.run([*WHARFD, *args], env=env, capture_output=True, text=True, cwd=data_dir.parent)
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def fingerprint(root_pem: str) -> bytes:
    return x509.load_pem_x509_certificate(root_pem.encode()).fingerprint(hashes.SHA256())


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_restored_host_keeps_its_local_ca_root(tmp_path: Path) -> None:
    data_dir = tmp_path / "wharf-data"
    data_dir.mkdir()
    root_before = wharfd(data_dir, "ca").stdout
    # A backed-up host whose key modes an operator loosened: the restore makes them private again.
    authority_paths(data_dir).root_key.chmod(0o644)
    archive = tmp_path / "host.tar.gz"
    wharfd(data_dir, "backup", "--output", str(archive))

    shutil.rmtree(data_dir)
    data_dir.mkdir()
    wharfd(data_dir, "restore", str(archive))

    root_after = wharfd(data_dir, "ca").stdout
    assert root_after == root_before, "a restored host minted a new root: clients trusting the old one fail"
    assert fingerprint(root_after) == fingerprint(root_before)
    restored = authority_paths(data_dir)
    assert mode(restored.root_key) == 0o600
    assert mode(restored.intermediate) == 0o600
    assert mode(restored.folder) == 0o700
    assert mode(restored.root_key.parent) == 0o700
