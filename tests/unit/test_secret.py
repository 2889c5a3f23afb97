from __future__ import annotations

import copy
import io
import pickle

import pytest

from ots_desktop.core.errors import SecretTooLargeError
from ots_desktop.core.secret import SecretBuffer, wipe, without_final_newline


def test_close_wipes_the_backing_bytearray() -> None:
    buf = SecretBuffer(b"hunter2-api-key")
    backing = buf._buf
    buf.close()
    assert backing == bytearray(len(b"hunter2-api-key"))
    assert buf.closed


def test_context_exit_wipes_even_on_error() -> None:
    with pytest.raises(RuntimeError), SecretBuffer(b"s3cret") as buf:
        backing = buf._buf
        raise RuntimeError("boom")
    assert backing == bytearray(6)


def test_use_after_close_is_refused() -> None:
    buf = SecretBuffer(b"x")
    buf.close()
    buf.close()  # twice is fine
    with pytest.raises(ValueError, match="closed"):
        buf.view()
    with pytest.raises(ValueError):
        buf.reveal_text()


def test_repr_and_str_never_show_content() -> None:
    with SecretBuffer(b"postgres://admin:pw@db") as buf:
        for text in (repr(buf), str(buf), f"{buf}", f"{buf}"):
            assert "admin" not in text and "postgres" not in text
            assert "redacted" in text


def test_cannot_be_pickled_or_copied() -> None:
    with SecretBuffer(b"token") as buf:
        with pytest.raises(TypeError):
            pickle.dumps(buf)
        with pytest.raises(TypeError):
            copy.copy(buf)
        with pytest.raises(TypeError):
            copy.deepcopy(buf)


def test_equality_is_by_content_and_unhashable() -> None:
    with SecretBuffer(b"abc") as a, SecretBuffer(b"abc") as b, SecretBuffer(b"abd") as c:
        assert a == b
        assert a != c
        assert a == b"abc"
        assert a != b"ab"
        assert (a == 3) is False
        with pytest.raises(TypeError):
            hash(a)


def test_wipe_source_clears_the_callers_bytearray() -> None:
    source = bytearray(b"from-a-widget")
    with SecretBuffer(source, wipe_source=True) as buf:
        assert buf == b"from-a-widget"
    assert source == bytearray(len(b"from-a-widget"))


def test_view_is_read_only() -> None:
    with SecretBuffer(b"abc") as buf:
        view = buf.view()
        with pytest.raises(TypeError):
            view[0] = 1
        view.release()


def test_from_stream_reads_everything_across_chunks() -> None:
    data = bytes(range(256)) * 1000  # > several read chunks
    with SecretBuffer.from_stream(io.BytesIO(data), max_size=len(data)) as buf:
        assert buf == data
        assert len(buf) == len(data)


def test_from_stream_refuses_oversized_input() -> None:
    with pytest.raises(SecretTooLargeError, match="larger than the limit of 10 bytes"):
        SecretBuffer.from_stream(io.BytesIO(b"x" * 11), max_size=10)


def test_memory_lock_is_best_effort() -> None:
    with SecretBuffer(b"k" * 64) as buf:
        assert isinstance(buf.locked, bool)


def test_wipe_refuses_read_only_buffers() -> None:
    with pytest.raises(TypeError):
        wipe(memoryview(b"immutable"))


@pytest.mark.parametrize(("raw", "expected"), [(b"pw\n", b"pw"), (b"pw\r\n", b"pw"), (b"pw", b"pw"),
                                               (b"pw\n\n", b"pw\n"), (b"\n", b""), (b"", b"")])
def test_without_final_newline_cuts_one_line_ending(raw: bytes, expected: bytes) -> None:
    original = SecretBuffer(raw)
    backing = original._buf
    with without_final_newline(original) as trimmed:
        assert trimmed == expected
    assert original.closed
    assert backing == bytearray(len(raw))
