"""Log files: bad bytes replaced, multi-byte characters split across chunks kept, secrets masked."""

from __future__ import annotations

from labdeck.store.logs import MASK, LogWriter, SecretMasker, read_from


def test_split_utf8_and_invalid_bytes(tmp_path):
    path = tmp_path / "n.log"
    writer = LogWriter(path)
    snowman = "☃".encode()
    writer.write("stdout", b"ok " + snowman[:1])
    writer.write("stdout", snowman[1:] + b" bad:\xff\xfe end\n")
    writer.close()
    assert path.read_text(encoding="utf-8") == "ok ☃ bad:\ufffd\ufffd end\n"


def test_legacy_encoding_override(tmp_path):
    path = tmp_path / "n.log"
    writer = LogWriter(path, encoding="cp1252")
    writer.write("stdout", "Größe\n".encode("cp1252"))
    writer.close()
    assert path.read_text(encoding="utf-8") == "Größe\n"


def test_secret_split_across_chunks_is_masked():
    masker = SecretMasker(["hunter2-secret"])
    out = (masker.feed("pass=hunter2") + masker.feed("-sec") + masker.feed("ret; next hunt") + masker.feed("er")
           + masker.flush())
    assert out == f"pass={MASK}; next hunter"


def test_no_secret_means_no_holdback():
    masker = SecretMasker([])
    assert masker.feed("abc") == "abc"


def test_read_from_offsets(tmp_path):
    path = tmp_path / "n.log"
    path.write_text("line1\nline2\n")
    text, offset = read_from(path, 0, limit=6)
    assert (text, offset) == ("line1\n", 6)
    assert read_from(path, offset) == ("line2\n", 12)
    assert read_from(tmp_path / "missing", 5) == ("", 5)


def test_a_full_disk_is_recorded_not_raised(tmp_path):
    path = tmp_path / "full.log"
    path.symlink_to("/dev/full")
    seen = []
    writer = LogWriter(path, on_text=seen.append)
    writer.write("stdout", b"hello\n")
    writer.note("a line from LabDeck")
    writer.close()
    assert writer.error is not None and writer.error.errno == 28
    assert "".join(seen) == "hello\n[labdeck] a line from LabDeck\n"


def test_stdout_and_stderr_lines_are_never_spliced_together(tmp_path):
    path = tmp_path / "n.log"
    writer = LogWriter(path)
    writer.write("stdout", b"OUTLINE\nOUT")     # a chunk that ends mid-line
    writer.write("stderr", b"ERRLINE\nERR")
    writer.write("stdout", b"LINE\n")
    writer.write("stderr", b"LINE\nprogress 50%\r")
    writer.write("stdout", b"no newline at the end")
    writer.close()
    assert path.read_bytes().decode().splitlines(keepends=True) == [
        "OUTLINE\n", "ERRLINE\n", "OUTLINE\n", "ERRLINE\n", "progress 50%\r", "no newline at the end"]


def test_a_note_starts_on_its_own_line(tmp_path):
    path = tmp_path / "n.log"
    writer = LogWriter(path)
    writer.write("stdout", b"x" * 70_000)  # longer than a held line may be: written without its end
    writer.note("step 1 timed out")
    writer.close()
    assert path.read_text() == "x" * 70_000 + "\n[labdeck] step 1 timed out\n"
