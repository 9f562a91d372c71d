"""Pure logic: sizes, durations, times, atomic records, chain ids, --change, platform selection, argv."""

import json
import os

import pytest

from pypod import units
from pypod.errors import InvalidArgument
from pypod.image.changes import apply_changes
from pypod.image.platform import Platform, select_manifest
from pypod.store import db
from pypod.store.layers import chain_ids


@pytest.mark.parametrize("n,text", [(0, "0 B"), (999, "999 B"), (1000, "1 kB"), (4_863_213, "4.86 MB"),
                                    (77_812_345, "77.8 MB"), (1_234_567_890, "1.23 GB"), (128_000_000, "128 MB")])
def test_human_size(n, text):
    assert units.human_size(n) == text


@pytest.mark.parametrize("s,text", [(0.5, "Less than a second"), (1, "1 second"), (3, "3 seconds"),
                                    (60, "About a minute"), (150, "2 minutes"), (3600, "About an hour"),
                                    (7200, "2 hours"), (3 * 86400, "3 days"), (15 * 86400, "2 weeks"),
                                    (90 * 86400, "3 months"), (800 * 86400, "2 years")])
def test_human_duration(s, text):
    assert units.human_duration(s) == text


def test_parse_time_roundtrip_with_nanoseconds():
    t = units.parse_time("2024-01-02T03:04:05.123456789Z")
    assert abs(t - 1704164645.123456789) < 1e-6
    assert units.parse_time("") == 0.0
    assert abs(units.parse_time(units.rfc3339_nano(1704164645.5)) - 1704164645.5) < 1e-6


@pytest.mark.parametrize("tz", ["UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata"])
def test_times_agree_with_datetime_in_every_zone(tz, monkeypatch):
    """parse_time/rfc3339_nano/go_time do without datetime (start-up): they must say what it says."""
    import datetime as dt
    import random
    import time

    monkeypatch.setenv("TZ", tz)
    time.tzset()
    try:
        for text in ["2024-02-29T23:59:59+05:30", "1999-12-31T00:00:00-08:00", "0001-01-01T00:00:00Z",
                     "2100-03-01T12:00:00.000001Z", "2024-01-02T03:04:05", "2024-01-02"]:
            bare = text.replace("Z", "+00:00").replace(".000001", "")
            want = dt.datetime.fromisoformat(bare).timestamp() + (1e-6 if ".000001" in text else 0)
            assert abs(units.parse_time(text) - want) < 1e-6, text
        for bad in ["garbage", "2024-13-01T00:00:00Z", "2024-01-02T25:00:00Z", "2024-01-02T03:04:05.x1Z"]:
            assert units.parse_time(bad) == 0.0, bad
        rnd = random.Random(7)
        for _ in range(500):
            ts = rnd.uniform(0, 4e9)
            local = dt.datetime.fromtimestamp(int(ts)).astimezone()
            assert units.go_time(int(ts)) == local.strftime("%Y-%m-%d %H:%M:%S %z %Z")
            text = units.rfc3339_nano(ts)
            assert text[:19] == local.strftime("%Y-%m-%dT%H:%M:%S")
            assert abs(units.parse_time(text) - ts) < 1e-6
            assert units.rfc3339_nano(ts, utc=True).endswith("Z")
            assert abs(units.parse_time(units.rfc3339_nano(ts, utc=True)) - ts) < 1e-6
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()


def test_parse_duration_and_size():
    assert units.parse_duration("1m30s") == 90
    assert units.parse_duration("500ms") == 0.5
    assert units.parse_duration("5") == 5
    with pytest.raises(InvalidArgument):
        units.parse_duration("5 parsecs")
    assert units.parse_size("64m") == 64 << 20
    assert units.parse_size("1g") == 1 << 30


def test_write_atomic_replaces_whole_record(tmp_path):
    p = tmp_path / "rec.json"
    db.write_json(p, {"a": 1})
    db.write_json(p, {"a": 2, "b": [1, 2]})
    assert json.loads(p.read_text()) == {"a": 2, "b": [1, 2]}
    assert [n for n in os.listdir(tmp_path) if ".tmp-" in n] == []
    p.write_text("{half")
    assert db.read_json(p, default="dflt") == "dflt"


def test_chain_ids_follow_the_oci_definition():
    import hashlib

    d1, d2 = "sha256:" + "a" * 64, "sha256:" + "b" * 64
    c = chain_ids([d1, d2])
    assert c[0] == d1
    assert c[1] == "sha256:" + hashlib.sha256(f"{d1} {d2}".encode()).hexdigest()


def test_changes():
    cfg = apply_changes({}, ['CMD ["sh", "-c", "echo hi"]', "ENV A=1 B=two", "ENTRYPOINT /bin/app",
                             "EXPOSE 80 53/udp", "LABEL k=v", "WORKDIR /srv", "USER 1000:1000",
                             "STOPSIGNAL SIGINT", "VOLUME /data"])
    assert cfg["Cmd"] == ["sh", "-c", "echo hi"]
    assert cfg["Env"] == ["A=1", "B=two"]
    assert cfg["Entrypoint"] == ["/bin/sh", "-c", "/bin/app"]
    assert cfg["ExposedPorts"] == {"80/tcp": {}, "53/udp": {}}
    assert cfg["Labels"] == {"k": "v"} and cfg["WorkingDir"] == "/srv" and cfg["User"] == "1000:1000"
    assert cfg["Volumes"] == {"/data": {}} and cfg["StopSignal"] == "SIGINT"
    with pytest.raises(InvalidArgument):
        apply_changes({}, ["RUN rm -rf /"])


def test_platform_selection_prefers_the_host_and_honours_overrides():
    index = {"manifests": [
        {"digest": "sha256:arm", "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"}},
        {"digest": "sha256:amd", "platform": {"os": "linux", "architecture": "amd64"}},
    ]}
    assert select_manifest(index, Platform("linux", "amd64"))["digest"] == "sha256:amd"
    assert select_manifest(index, Platform.parse("linux/arm64"))["digest"] == "sha256:arm"
    assert select_manifest(index, Platform.parse(None, arch="aarch64"))["digest"] == "sha256:arm"
    assert select_manifest(index, Platform("linux", "s390x")) is None
    with pytest.raises(InvalidArgument):
        Platform.parse("linux")


def test_global_flags_after_the_command_are_hoisted():
    from pypod.cli.app import _command_word, hoist_global_options

    assert _command_word(["--root", "/x", "images"]) == "images"
    assert hoist_global_options(["images", "--log-level=debug", "-q"]) == ["--log-level=debug", "images", "-q"]
    assert hoist_global_options(["image", "ls", "--root", "/r"]) == ["--root", "/r", "image", "ls"]
    # after the image of `run`, everything is the container's command
    argv = ["run", "--rm", "busybox", "sh", "--root", "/x"]
    assert hoist_global_options(argv) == argv


def test_signals():
    from pypod.signals import parse_signal

    assert parse_signal("KILL") == 9 and parse_signal("SIGTERM") == 15 and parse_signal("2") == 2
    with pytest.raises(InvalidArgument):
        parse_signal("SIGNOPE")


def test_go_duration_strings():
    from pypod.engine.containers import _go_duration

    assert [_go_duration(v) for v in (0, 1.851912377, 0.5, 61.5, 3725.25)] == \
        ["0s", "1.851912377s", "500ms", "1m1.5s", "1h2m5.25s"]


def test_record_defaults_are_fresh_and_round_trip():
    from pypod.store.images import ImageRecord

    a, b = ImageRecord(id="x"), ImageRecord(id="y")
    a.names.append("n")
    assert b.names == [] and ImageRecord.from_dict(a.to_dict()) == a
    with pytest.raises(TypeError):
        ImageRecord(nope=1)


def test_registry_connection_errors_are_one_plain_line():
    from pypod.image.registry import _short, parse_www_authenticate

    e = Exception("HTTPSConnectionPool(host='localhost', port=1): Max retries exceeded with url: /v2/ (Caused by "
                  "SSLError(SSLError(1, '[SSL: WRONG_VERSION_NUMBER] wrong version number (_ssl.c:992)')))")
    assert _short(e).startswith("http: server gave HTTP response to HTTPS client")
    e = Exception("... [Errno 111] Connection refused'))")
    assert _short(e) == "Connection refused"
    ch = parse_www_authenticate('Bearer realm="https://auth.example/token",service="reg",scope="repository:a/b:pull"')
    assert ch.scheme == "bearer" and ch.params == {"realm": "https://auth.example/token", "service": "reg",
                                                   "scope": "repository:a/b:pull"}


def test_time_stamps_print_as_go_prints_a_time():
    """`{{.Created}}`/`{{.State.StartedAt}}` print Go's time.Time String(); JSON keeps RFC 3339."""
    from pypod.template import GoTime, Template

    assert units.go_time_text("2023-11-14T22:13:20Z") == "2023-11-14 22:13:20 +0000 UTC"
    assert units.go_time_text("2023-11-14T22:13:20.120000000Z") == "2023-11-14 22:13:20.12 +0000 UTC"
    assert units.go_time_text("2023-11-14T22:13:20.5+05:30") == "2023-11-14 22:13:20.5 +0530 +0530"
    assert units.go_time_text("0001-01-01T00:00:00Z") == "0001-01-01 00:00:00 +0000 UTC"  # Go's zero time
    assert units.go_time_text("not a time") == "not a time"
    t = Template('{{.C}}|{{json .C}}|{{printf "%s" .C}}|{{.C}}{{.C}}')
    out = t.execute({"C": GoTime("2023-11-14T22:13:20Z")})
    assert out == ('2023-11-14 22:13:20 +0000 UTC|"2023-11-14T22:13:20Z"|2023-11-14 22:13:20 +0000 UTC|'
                   '2023-11-14 22:13:20 +0000 UTC2023-11-14 22:13:20 +0000 UTC')
    assert json.loads(json.dumps({"C": GoTime("2023-11-14T22:13:20Z")})) == {"C": "2023-11-14T22:13:20Z"}
