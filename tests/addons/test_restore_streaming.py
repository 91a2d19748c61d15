"""A restore copies the dump into the add-on as a stream: a dump of any size is never held in memory."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

from wharf.platform.addons.postgres_addon import tar_of_one_file


def test_the_dump_streams_into_a_tar_in_bounded_chunks(tmp_path: Path) -> None:
    dump = tmp_path / "b001.dump"
    content = os.urandom(5 * 1024 * 1024 + 123)
    dump.write_bytes(content)
    chunks = list(tar_of_one_file("restore.dump", dump, chunk_bytes=256 * 1024))
    assert max(len(chunk) for chunk in chunks) <= 256 * 1024
    with tarfile.open(fileobj=io.BytesIO(b"".join(chunks))) as archive:
        member = archive.getmember("restore.dump")
        extracted = archive.extractfile(member)
        assert extracted is not None and extracted.read() == content
