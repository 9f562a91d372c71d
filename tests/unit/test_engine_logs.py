"""Reading k8s-file logs: the last lines found from the end, everything streamed."""

from __future__ import annotations

from pypod.engine import logs

T = "2024-01-01T00:00:%02d.000000000+00:00"


def _log(tmp_path, lines: list[str], tail_bytes: bytes = b""):
    p = tmp_path / "ctr.log"
    p.write_bytes("".join(x + "\n" for x in lines).encode() + tail_bytes)
    return p


def _read(path, **kw):
    records, offset = logs.read_logs(path, **kw)
    return [(s, d) for _, s, d in records], offset


def test_tail_counts_lines_with_their_partial_pieces(tmp_path):
    p = _log(tmp_path, [f"{T % 1} stdout F one", f"{T % 2} stdout P tw", f"{T % 3} stdout F o",
                        f"{T % 4} stderr F three", f"{T % 5} stdout P four-"])
    assert _read(p, tail=2)[0] == [("stdout", b"tw"), ("stdout", b"o\n"),
                                   ("stderr", b"three\n"), ("stdout", b"four-")]
    assert _read(p, tail=1)[0] == [("stderr", b"three\n"), ("stdout", b"four-")]
    assert _read(p, tail=0)[0] == []
    assert len(_read(p, tail=99)[0]) == 5 == len(_read(p)[0])


def test_a_line_being_written_is_left_for_follow(tmp_path):
    p = _log(tmp_path, [f"{T % 1} stdout F done"], tail_bytes=f"{T % 2} stdout F hal".encode())
    records, offset = _read(p, tail=5)
    assert records == [("stdout", b"done\n")]
    assert offset == len(f"{T % 1} stdout F done\n")


def test_since_until_filter_before_the_tail(tmp_path):
    from pypod.units import parse_time

    p = _log(tmp_path, [f"{T % i} stdout F l{i}" for i in range(1, 10)])
    assert _read(p, since=parse_time(T % 3), until=parse_time(T % 6), tail=2)[0] == \
        [("stdout", b"l5\n"), ("stdout", b"l6\n")]
    assert _read(p, since=parse_time(T % 8))[0] == [("stdout", b"l8\n"), ("stdout", b"l9\n")]


def test_long_lines_across_blocks_and_carriage_returns(tmp_path, monkeypatch):
    monkeypatch.setattr(logs, "BLOCK", 7)  # every line spans several backward reads
    monkeypatch.setattr(logs, "FORWARD_BLOCK", 5)
    lines = [f"{T % i} stdout F {'x' * i * 3}\r{i}" for i in range(1, 8)]
    p = _log(tmp_path, lines)
    assert _read(p, tail=3)[0] == [("stdout", b"x" * i * 3 + b"\r%d\n" % i) for i in (5, 6, 7)]
    assert len(_read(p)[0]) == 7


def test_missing_or_empty_log(tmp_path):
    assert _read(tmp_path / "none", tail=3) == ([], 0)
    assert _read(_log(tmp_path, []), tail=3) == ([], 0)


def test_memory_does_not_grow_with_the_log(tmp_path):
    import tracemalloc

    from pypod.units import parse_time

    line = f"{T % 1} stdout F {'y' * 1000}\n".encode()
    p = tmp_path / "ctr.log"
    with open(p, "wb") as f:
        f.write(line * 20_000)  # 20 MB
        f.write(f"{T % 2} stdout F last\n".encode())
    tracemalloc.start()
    try:
        assert _read(p, tail=1)[0] == [("stdout", b"last\n")]
        n = sum(1 for _ in logs.read_logs(p)[0])
        assert [r[2] for r in logs.read_logs(p, since=parse_time(T % 2))[0]] == [b"last\n"]
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert n == 20_001
    assert peak < 8 << 20, peak  # a read block and its lines; the log is 20 MB


def test_fast_time_parse_agrees():
    from pypod.units import parse_time

    for ts in ("2024-05-01T12:00:00.123456789+02:00", "2024-05-01T12:00:00.000000001-07:30",
               "2024-05-01T12:00:00Z", "2024-05-01T12:00:00.5Z", "bogus"):
        assert abs(logs._time_of(ts) - parse_time(ts)) < 1e-6, ts


def _scripted_follow(path, steps, offset=0):
    """follow_lines over `path`, where each time it finds nothing new the next step changes the
    file (a step returning True ends the follow)."""
    steps = list(steps)
    asked = []

    def done():
        asked.append(True)
        return steps.pop(0)() if steps else True

    return list(logs.follow_lines(path, offset, done=done, poll=0)), len(asked)


def _append(path, data: bytes) -> None:
    with open(path, "ab") as f:
        f.write(data)


def test_follow_gives_whole_lines_and_asks_done_only_when_caught_up(tmp_path):
    p = tmp_path / "f.log"
    p.write_bytes(b"a\nb\npart")
    lines, asked = _scripted_follow(p, [lambda: _append(p, b"ial\nc\n"), lambda: True])
    assert lines == [b"a", b"b", b"partial", b"c"]
    assert asked == 2  # once after "a b", once after "partial c": never while there was more


def test_follow_starts_again_when_the_file_is_truncated_or_replaced(tmp_path):
    p = tmp_path / "f.log"
    p.write_bytes(b"one\ntwo\n")

    def truncate():
        p.write_bytes(b"3\n")  # shorter than what was read: log-size-max cut it

    def rotate():
        (tmp_path / "f.log").rename(tmp_path / "f.log.1")
        p.write_bytes(b"four-and-more\n")  # a new file, longer than the offset read

    lines, _ = _scripted_follow(p, [truncate, rotate, lambda: True])
    assert lines == [b"one", b"two", b"3", b"four-and-more"]


def test_follow_waits_for_a_missing_file(tmp_path):
    p = tmp_path / "later.log"
    lines, asked = _scripted_follow(p, [lambda: p.write_bytes(b"x\n") and False, lambda: True])
    assert (lines, asked) == ([b"x"], 2)


def test_follow_reads_what_was_written_before_the_file_was_deleted(tmp_path):
    """run --rm: the log goes with the container, maybe before the reader caught up."""
    p = tmp_path / "f.log"
    p.write_bytes(b"a\n")

    def last_words_and_gone():
        _append(p, b"b\n")
        p.unlink()

    lines, _ = _scripted_follow(p, [last_words_and_gone, lambda: True])
    assert lines == [b"a", b"b"]
