"""Receiving files safely: sender-chosen names, never-overwriting destinations and zip extraction."""

from __future__ import annotations

import io
import os
import stat
import struct
import warnings
import zipfile
from pathlib import Path

import pytest

from ots_desktop.channels.failures import ChannelFailure
from ots_desktop.channels.safe_files import check_name, create_unique, extract_zip
from ots_desktop.core.audit.events import Reason
from ots_desktop.core.errors import ExitCode


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def snapshot(folder: Path) -> dict[str, bytes | None]:
    """Every path below ``folder`` (symlinks not followed) with its content; None for directories and links."""
    out: dict[str, bytes | None] = {}
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder).as_posix()
        out[rel] = path.read_bytes() if path.is_file() and not path.is_symlink() else None
    return out


def assert_unsafe(excinfo: pytest.ExceptionInfo[ChannelFailure]) -> None:
    failure = excinfo.value
    assert failure.reason is Reason.UNSAFE_PATH
    assert failure.exit_code == ExitCode.UNSAFE_PATH
    assert "nothing was saved" in failure.message


# --------------------------------------------------------------------------- check_name

@pytest.mark.parametrize("name", ["prod.env", ".env", "report (1).pdf", "café.txt", "日本語の鍵.pem",
                                  "archive.tar.gz", "a" * 255, "my key", "CONFIG.txt", "com10", "x..y"])
def test_check_name_accepts_plain_names(name: str) -> None:
    assert check_name(name) == name


@pytest.mark.parametrize("name", [
    "", ".", "..", "a/b", "a\\b", "C:evil", "/abs", "../up", "..\\up", "dir/", "C:\\evil",
    "nul\x00byte", "new\nline", "carriage\rreturn", "tab\there", "evil\u202etxt.exe", "zero\u200bwidth",
    "esc\x1b[31m", "CON", "con", "nul.txt", "NUL.tar.gz", "PRN", "aux.log", "COM1", "lpt9.txt",
    "trailing space ", "trailing dot.", "a" * 300, "é" * 128,
    "COM0", "lpt0.log", "com\u00b9.txt", "CONIN$", "conout$.txt", "CLOCK$", "nul .txt", "CON .env",
    "what?.txt", "a*b", "quote\".txt", "pipe|name", "<tag>.html",
])
def test_check_name_refuses_unsafe_names(name: str) -> None:
    with pytest.raises(ChannelFailure) as excinfo:
        check_name(name)
    assert_unsafe(excinfo)


@pytest.mark.parametrize("value", [None, 7, b"bytes.txt", ["a"], {"name": "a"}])
def test_check_name_refuses_what_is_not_a_string(value: object) -> None:
    with pytest.raises(ChannelFailure) as excinfo:
        check_name(value)
    assert_unsafe(excinfo)


# --------------------------------------------------------------------------- create_unique

def test_create_unique_creates_an_empty_private_file(tmp_path: Path) -> None:
    path = create_unique(tmp_path, "a.txt")
    assert path == tmp_path / "a.txt"
    assert path.read_bytes() == b""
    assert mode_of(path) == 0o600


def test_create_unique_never_overwrites(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_bytes(b"keep me")
    second = create_unique(tmp_path, "a.txt")
    third = create_unique(tmp_path, "a.txt")
    assert second == tmp_path / "a (2).txt"
    assert third == tmp_path / "a (3).txt"
    assert (tmp_path / "a.txt").read_bytes() == b"keep me"
    assert mode_of(second) == 0o600 and mode_of(third) == 0o600


@pytest.mark.parametrize(("name", "second"), [(".env", ".env (2)"), ("archive.tar.gz", "archive (2).tar.gz"),
                                              ("README", "README (2)")])
def test_create_unique_numbers_before_the_extension(tmp_path: Path, name: str, second: str) -> None:
    assert create_unique(tmp_path, name) == tmp_path / name
    assert create_unique(tmp_path, name) == tmp_path / second


def test_create_unique_makes_private_directories(tmp_path: Path) -> None:
    first = create_unique(tmp_path, "project", directory=True)
    second = create_unique(tmp_path, "project", directory=True)
    assert first == tmp_path / "project" and second == tmp_path / "project (2)"
    for path in (first, second):
        assert path.is_dir() and not path.is_symlink()
        assert mode_of(path) == 0o700
        assert list(path.iterdir()) == []


def test_create_unique_does_not_follow_a_symlink(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    victim = outside / "victim.txt"
    victim.write_bytes(b"precious")
    victim.chmod(0o644)
    folder = tmp_path / "downloads"
    folder.mkdir()
    (folder / "a.txt").symlink_to(victim)
    (folder / "dangling.txt").symlink_to(outside / "not-there.txt")

    path = create_unique(folder, "a.txt")
    assert path == folder / "a (2).txt"
    assert not path.is_symlink() and mode_of(path) == 0o600
    assert victim.read_bytes() == b"precious" and mode_of(victim) == 0o644
    assert (folder / "a.txt").is_symlink()

    # A dangling link is not followed either: its target must not appear.
    dangling = create_unique(folder, "dangling.txt")
    assert dangling == folder / "dangling (2).txt"
    assert not (outside / "not-there.txt").exists()
    assert sorted(p.name for p in outside.iterdir()) == ["victim.txt"]


def test_create_unique_does_not_follow_a_symlinked_directory(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    folder = tmp_path / "downloads"
    folder.mkdir()
    (folder / "project").symlink_to(outside, target_is_directory=True)
    path = create_unique(folder, "project", directory=True)
    assert path == folder / "project (2)"
    assert list(outside.iterdir()) == []


# --------------------------------------------------------------------------- extract_zip

def make_zip(path: Path, members: list[tuple[str | zipfile.ZipInfo, bytes]]) -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # duplicate names are the point of some tests
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for name, data in members:
                info = name if isinstance(name, zipfile.ZipInfo) else zipfile.ZipInfo(name)
                info.compress_type = zipfile.ZIP_DEFLATED
                zf.writestr(info, data)
    return path


class Extraction:
    """A sandbox: ``base/archive.zip``, an empty ``base/dest/root`` and a sibling file that must survive."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.dest = base / "dest"
        self.root = self.dest / "root"
        self.root.mkdir(parents=True, mode=0o700)
        (base / "sibling.txt").write_bytes(b"untouched")
        self.archive = base / "archive.zip"

    def before(self) -> dict[str, bytes | None]:
        return {k: v for k, v in snapshot(self.base).items() if not k.startswith("dest/root")}

    def run(self, members: list[tuple[str | zipfile.ZipInfo, bytes]], *, max_bytes: int = 1 << 20,
            max_files: int = 100) -> tuple[int, int]:
        make_zip(self.archive, members)
        return extract_zip(self.archive, self.root, max_bytes=max_bytes, max_files=max_files)

    def refused(self, members: list[tuple[str | zipfile.ZipInfo, bytes]], **limits: int) -> ChannelFailure:
        make_zip(self.archive, members)
        before = self.before()
        with pytest.raises(ChannelFailure) as excinfo:
            extract_zip(self.archive, self.root, max_bytes=limits.get("max_bytes", 1 << 20),
                        max_files=limits.get("max_files", 100))
        assert_unsafe(excinfo)
        # Nothing outside the root changed, and every check ran before anything was written.
        assert self.before() == before
        assert list(self.root.iterdir()) == []
        return excinfo.value


@pytest.fixture
def box(tmp_path: Path) -> Extraction:
    return Extraction(tmp_path)


def test_a_good_zip_extracts_privately(box: Extraction) -> None:
    key = os.urandom(5000)
    folder = zipfile.ZipInfo("config/empty/")
    files, written = box.run([("config/prod.yaml", b"password: hunter2\n"), ("config/deep/key.pem", key),
                              (folder, b""), (".env", b"A=1\n"), ("zero.bin", b"")])
    assert files == 4
    assert written == len(b"password: hunter2\n") + len(key) + len(b"A=1\n")
    assert snapshot(box.root) == {".env": b"A=1\n", "config": None, "config/deep": None,
                                  "config/deep/key.pem": key, "config/empty": None,
                                  "config/prod.yaml": b"password: hunter2\n", "zero.bin": b""}
    for path in box.root.rglob("*"):
        assert mode_of(path) == (0o700 if path.is_dir() else 0o600), path
    assert (box.base / "sibling.txt").read_bytes() == b"untouched"


def test_dot_segments_that_stay_inside_are_fine(box: Extraction) -> None:
    box.run([("./a/./b.txt", b"b")])
    assert snapshot(box.root) == {"a": None, "a/b.txt": b"b"}


@pytest.mark.parametrize("name", ["../x", "../../x", "/abs", "/tmp/x", "a/../../x", "a/b/../../../x", "..",
                                  "C:\\x", "..\\x", "a\\..\\..\\x", "C:x", "C:/x", "//server/share/x",
                                  "nul\x00.txt", "CON/x", "a/evil\u202etxt", "a/trailing./x"])
def test_a_member_outside_the_folder_or_with_a_bad_name_is_refused(box: Extraction, name: str) -> None:
    box.refused([("fine.txt", b"fine"), (name, b"evil")])


def test_a_symlink_member_is_refused(box: Extraction) -> None:
    link = zipfile.ZipInfo("link")
    link.create_system = 3
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    failure = box.refused([("fine.txt", b"fine"), (link, b"/etc/passwd")])
    assert "link" in failure.message
    assert not (box.root / "link").is_symlink()


def test_a_symlink_then_a_file_through_it_is_refused(box: Extraction) -> None:
    link = zipfile.ZipInfo("dir")
    link.create_system = 3
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    box.refused([(link, str(box.base).encode()), ("dir/sibling.txt", b"overwritten")])
    assert (box.base / "sibling.txt").read_bytes() == b"untouched"


def test_more_entries_than_allowed_are_refused(box: Extraction) -> None:
    box.refused([(f"f{i}.txt", b"x") for i in range(6)], max_files=5)
    # The limit itself is fine.
    files, _ = box.run([(f"f{i}.txt", b"x") for i in range(5)], max_files=5)
    assert files == 5


def test_more_declared_bytes_than_allowed_are_refused(box: Extraction) -> None:
    box.refused([("a.bin", b"\0" * 600), ("b.bin", b"\0" * 600)], max_bytes=1000)
    box.refused([("zeros.bin", b"\0" * 100_000)], max_bytes=10)
    files, written = box.run([("a.bin", b"\0" * 500), ("b.bin", b"\0" * 500)], max_bytes=1000)
    assert (files, written) == (2, 1000)


def lying_zip(path: Path, *, real: bytes, claimed: int) -> Path:
    """A zip whose headers claim ``claimed`` bytes for a member that inflates to ``real``."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("big.bin", real)
    data = bytearray(buffer.getvalue())
    assert data[:4] == b"PK\x03\x04"
    struct.pack_into("<I", data, 22, claimed)  # local header: uncompressed size
    central = data.find(b"PK\x01\x02")
    struct.pack_into("<I", data, central + 24, claimed)  # central directory: uncompressed size
    path.write_bytes(bytes(data))
    return path


def test_a_zip_that_lies_about_sizes_never_writes_more_than_allowed(box: Extraction) -> None:
    lying_zip(box.archive, real=b"\0" * 100_000, claimed=10)
    before = box.before()
    with pytest.raises(Exception):  # noqa: B017 - the exact type is the next test's business
        extract_zip(box.archive, box.root, max_bytes=50, max_files=5)
    assert box.before() == before
    assert sum(p.stat().st_size for p in box.root.rglob("*") if p.is_file()) <= 50


def test_a_zip_that_lies_about_sizes_is_refused_as_unsafe(box: Extraction) -> None:
    lying_zip(box.archive, real=b"\0" * 100_000, claimed=10)
    with pytest.raises(ChannelFailure) as excinfo:
        extract_zip(box.archive, box.root, max_bytes=50, max_files=5)
    assert_unsafe(excinfo)


def test_duplicate_members_never_overwrite(box: Extraction) -> None:
    make_zip(box.archive, [("a.txt", b"first"), ("a.txt", b"second")])
    with pytest.raises((ChannelFailure, OSError)):
        extract_zip(box.archive, box.root, max_bytes=100, max_files=5)
    assert (box.root / "a.txt").read_bytes() == b"first"


def test_every_folder_a_deep_file_needs_is_private(box: Extraction) -> None:
    box.run([("one/two/three/four/deep.txt", b"deep")])
    folders = [box.root / "one", box.root / "one/two", box.root / "one/two/three", box.root / "one/two/three/four"]
    assert [mode_of(path) for path in folders] == [0o700] * 4
    assert mode_of(box.root / "one/two/three/four/deep.txt") == 0o600
