"""A compressed export (the OpenTelemetry collector's file exporter can write zstd; people gzip
their traces) was refused as "invalid UTF-8 near byte 1": it says which compression it is and
what to do, naming the file, and nothing is stored."""

from __future__ import annotations

import bz2
import gzip
import lzma

import pytest

import store
from store.importers import ImportFailure, import_path

BODY = b'{"resourceSpans": []}\n'
FORMS = {
    "gzip": (gzip.compress(BODY), "gzip", "gunzip"),
    "bzip2": (bz2.compress(BODY), "bzip2", "bunzip2"),
    "xz": (lzma.compress(BODY), "xz", "unxz"),
    # (zstd's frame magic, as the collector's `compression: zstd` writes it)
    "zstd": (b"\x28\xb5\x2f\xfd" + b"\x00" * 16, "zstd", "zstd -d"),
    "zip": (b"PK\x03\x04" + b"\x00" * 26, "zip", "unzip"),
}


@pytest.mark.parametrize("name", list(FORMS))
@pytest.mark.parametrize("suffix", [".json", ".jsonl", ".gz"])
def test_a_compressed_file_is_named_as_compressed(tmp_path, name, suffix):
    data, kind, tool = FORMS[name]
    p = tmp_path / f"traces{suffix}"
    p.write_bytes(data)
    db = store.open_db(tmp_path / "s.sqlite")
    with pytest.raises(ImportFailure) as exc:
        import_path(db, p)
    said = str(exc.value)
    assert said.startswith(f"{p}: ") and f"compressed ({kind})" in said and tool in said, said
    assert db.conn.execute("SELECT count(*) FROM runs").fetchone() == (0,)
