"""A damaged catalog file -- an empty one included -- is refused with one line that names only the
backups that exist; it is never silently replaced by a new catalog with the sample node and job."""

from __future__ import annotations

import subprocess
import sys

import pytest

from labdeck.core.errors import CatalogError
from labdeck.store.catalog import Catalog


def test_a_zero_byte_catalog_is_refused_and_left_alone(tmp_path):
    path = tmp_path / "catalog.sqlite"
    path.write_bytes(b"")
    with pytest.raises(CatalogError) as caught:
        Catalog(path)
    message = str(caught.value)
    assert "empty (0 bytes)" in message and "there is no backup of it" in message
    assert "bak-v" not in message  # no backup exists, so none is named
    assert path.stat().st_size == 0


def test_the_message_names_the_backups_that_exist(tmp_path):
    good = Catalog(tmp_path / "old.sqlite")
    good.close()
    path = tmp_path / "catalog.sqlite"
    (tmp_path / "old.sqlite").rename(tmp_path / "catalog.sqlite.bak-v3")
    path.write_bytes(b"")
    with pytest.raises(CatalogError, match=r"restore a backup \(catalog\.sqlite\.bak-v3, in "):
        Catalog(path)


def test_a_garbage_catalog_is_damaged_too(tmp_path):
    path = tmp_path / "catalog.sqlite"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(CatalogError, match="is damaged .*there is no backup of it"):
        Catalog(path)


def test_the_cli_says_it_in_one_line_and_creates_no_sample(tmp_path):
    (tmp_path / "catalog.sqlite").write_bytes(b"")
    result = subprocess.run([sys.executable, "-m", "labdeck.cli", "--data-dir", str(tmp_path), "node", "list"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert len(result.stderr.strip().splitlines()) == 1 and "empty (0 bytes)" in result.stderr, result.stderr
    assert "this-computer" not in result.stdout
    assert (tmp_path / "catalog.sqlite").stat().st_size == 0
