"""podman 4.3's rules for the container verbs, as its own system tests check them: signal
parsing, ps/start filters, keep-id's home, cp's error texts, rm's dependencies."""

import pytest

from pypod.errors import InvalidArgument


@pytest.mark.parametrize("text,num", [("-1", 1), ("-INT", 2), ("FPE", 8), ("-SIGUSR1", 10), ("sigusr2", 12),
                                      ("64", 64)])
def test_a_signal_may_carry_a_leading_dash(text, num):
    from pypod.signals import parse_signal

    assert parse_signal(text) == num


@pytest.mark.parametrize("text,message", [
    ("0", "invalid signal: 0"), ("-0", "invalid signal: 0"), ("-SIGBADSIG", "invalid signal: SIGBADSIG"),
    ("SIG", "invalid signal: SIG"), ("-", "invalid signal: "), ("65", "valid signals are 1 through 64"),
    ("-65", "valid signals are 1 through 64"), ("99999999", "valid signals are 1 through 64"),
])
def test_bad_signals_are_named_as_podman_names_them(text, message):
    from pypod.signals import parse_signal

    with pytest.raises(InvalidArgument) as e:
        parse_signal(text)
    assert e.value.message == message


def test_restart_policy_filter_knows_none_and_refuses_unknown_policies():
    from pypod.engine.containers import PsFilter

    assert PsFilter(["restart-policy=none"]).f == {"restart-policy": ["no"]}
    with pytest.raises(InvalidArgument, match="^fakepolicy invalid restart policy$"):
        PsFilter(["restart-policy=fakepolicy"])


def test_keep_id_home_falls_back_to_the_workdir(tmp_path):
    from pypod.runtime.init import _home_or_workdir

    (tmp_path / "home" / "me").mkdir(parents=True)
    entry = "me:*:1000:1000:me:/home/me:/bin/sh"
    assert _home_or_workdir(str(tmp_path), entry, "/srv", set()) == entry
    gone = "you:*:1001:1001:you:/home/you:/bin/sh"
    assert _home_or_workdir(str(tmp_path), gone, "/srv", set()) == "you:*:1001:1001:you:/srv:/bin/sh"
    assert _home_or_workdir(str(tmp_path), gone, "/srv", {"/home/you"}) == gone  # a volume there


def test_cp_names_what_is_in_the_way_as_podman(tmp_path):
    import io
    import tarfile

    from pypod.engine import cp_tar

    (tmp_path / "foo").mkdir()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        ti = tarfile.TarInfo("foo")
        ti.size = 2
        tf.addfile(ti, io.BytesIO(b"hi"))
    buf.seek(0)
    with pytest.raises(cp_tar.CopyError) as e:
        cp_tar.extract(buf, str(tmp_path), lambda n: "/" + n, None, True, shown=lambda p: "/shown" + p)
    assert e.value.message.startswith('error creating "/foo": cannot overwrite directory "/shown/foo" '
                                      'with non-directory: file exists')


def test_cp_relative_container_paths_start_at_the_workdir():
    from pypod.engine.cp import _in_workdir
    from pypod.store.containers import ContainerRecord

    from pypod.store.container_config import ContainerConfig

    rec = ContainerRecord(id="x" * 64, name="c", config=ContainerConfig(workdir="/srv"))
    assert _in_workdir(rec, ".") == "/srv/."
    assert _in_workdir(rec, "sub/f") == "/srv/sub/f"
    assert _in_workdir(rec, "/etc") == "/etc"
    rec.config = ContainerConfig()
    assert _in_workdir(rec, "f") == "/f"


def test_rm_depend_removes_dependents_first():
    from pypod.engine import depends
    from pypod.store.containers import ContainerRecord

    from pypod.store.container_config import ContainerConfig

    def rec(i, net="private"):
        return ContainerRecord(id=i * 64, name=i, config=ContainerConfig(network=net))

    a, b, c = rec("a"), rec("b", "container:" + "a" * 64), rec("c", "container:" + "b" * 64)
    records = [a, b, c]
    assert [r.id[0] for _, r in depends.with_dependents(records, [("a", a)])] == ["c", "b", "a"]
    err = depends.refusal(records, a, {a.id})
    assert err is not None and err.message.startswith(
        f"container {a.id} has dependent containers which must be removed before it: {b.id}")
    assert depends.refusal(records, a, {a.id, b.id}) is None


def test_status_stopped_means_exited():
    from pypod.engine.containers import PsFilter

    f = PsFilter(["status=stopped"])
    assert f.match(None, _rec(), {"status": "exited"}) and not f.match(None, _rec(), {"status": "running"})


def _rec():
    from pypod.store.containers import ContainerRecord

    return ContainerRecord(id="f" * 64, name="n")
