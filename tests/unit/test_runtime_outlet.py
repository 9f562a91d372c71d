"""runtime/outlet.py: writing to a reader that may stall never blocks, keeps order, is bounded;
runtime/attach.py's frames are bounded too."""

import fcntl
import os

import pytest

from pypod.runtime import outlet


def _drain(r: int, o: outlet.Outlet) -> bytes:
    """Read everything while the outlet flushes its backlog."""
    os.set_blocking(r, False)
    got = bytearray()
    while True:
        assert o.flush()
        try:
            chunk = os.read(r, 1 << 16)
        except BlockingIOError:
            chunk = b""
        got += chunk
        if not chunk and not o.pending:
            return bytes(got)


@pytest.mark.parametrize("how", ["nonblock", "nowait", "guarded"])
def test_a_stalled_reader_never_blocks_the_writer_and_gets_everything_in_order(tmp_path, how):
    r, w = os.pipe()
    if how == "nonblock":
        os.set_blocking(w, False)
    o = outlet.Outlet(w, str(tmp_path), how=how)
    sent = b"".join(b"%08d\n" % i for i in range(400_000))  # 3.6 MB: memory, then the spill file
    for i in range(0, len(sent), 1 << 16):
        assert o.write(sent[i:i + (1 << 16)])  # a blocking write would hang the test here
    assert o.pending and o.spill >= 0
    assert os.listdir(tmp_path) == []  # the spill file has no name
    assert _drain(r, o) == sent
    assert o.spill_w == 0  # the spill was emptied once read
    o.close()
    os.close(r)


def test_a_reader_too_far_behind_is_given_up(tmp_path, monkeypatch):
    monkeypatch.setattr(outlet, "SPILL_MAX", 1 << 20)
    r, w = os.pipe()
    os.set_blocking(w, False)
    o = outlet.Outlet(w, str(tmp_path))
    results = [o.write(b"x" * (1 << 16)) for _ in range(64)]
    assert results[0] and not results[-1]
    assert o.lost and o.overflowed and not o.pending and o.spill == -1
    o.close()
    os.close(r)


def test_a_reader_that_went_away_is_lost_not_an_overflow(tmp_path):
    r, w = os.pipe()
    os.set_blocking(w, False)
    os.close(r)
    o = outlet.Outlet(w, str(tmp_path))
    assert not o.write(b"data")
    assert o.lost and not o.overflowed
    o.close()


def test_a_shared_stream_stays_blocking_for_the_others(tmp_path):
    r, w = os.pipe()
    o = outlet.open_nonblocking(w, str(tmp_path))
    assert o is not None and o.fd != w
    for _ in range(8):  # more than the pipe holds
        assert o.write(b"y" * (1 << 16))
    assert os.get_blocking(w)  # the original description was not touched
    assert not fcntl.fcntl(w, fcntl.F_GETFL) & os.O_NONBLOCK
    assert _drain(r, o) == b"y" * (8 << 16)
    o.close()
    os.close(w)
    os.close(r)


def test_same_file():
    r, w = os.pipe()
    d = os.dup(w)
    r2, w2 = os.pipe()
    assert outlet.same_file(w, d) and not outlet.same_file(w, w2)
    for f in (r, w, d, r2, w2):
        os.close(f)


def test_an_oversized_frame_is_refused_not_buffered():
    from pypod.runtime.attach import MAX_FRAME, FrameError, FrameReader, frame

    r = FrameReader()
    assert r.feed(frame(0, b"x" * 65536)) == [(0, b"x" * 65536)]
    with pytest.raises(FrameError):  # refused from its header, before any payload arrives
        r.feed(bytes([0]) + (MAX_FRAME + 1).to_bytes(4, "big"))
