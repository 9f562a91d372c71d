"""idmap: /etc/subuid parsing and the mapping maths (no privileges, no processes)."""

from pypod.linux import idmap

SUBUID = """# comment
alice:100000:65536
bob:200000:1000
1001:300000:10
alice:500000:100
badline
carol:x:5
"""


def test_parse_subid_by_name_and_uid():
    assert idmap.parse_subid(SUBUID, "alice", 1000) == [(100000, 65536), (500000, 100)]
    assert idmap.parse_subid(SUBUID, "dave", 1001) == [(300000, 10)]
    assert idmap.parse_subid(SUBUID, "carol", 7) == []
    assert idmap.parse_subid("", "alice", 1000) == []


def test_build_ranges_podman_layout():
    r = idmap.build_ranges(1000, [(100000, 65536), (500000, 100)])
    assert [x.as_tuple() for x in r] == [(0, 1000, 1), (1, 100000, 65536), (65537, 500000, 100)]


def test_compute_mapping_full():
    m = idmap.compute_mapping(uid=1000, gid=1000, user="alice", subuid_text=SUBUID,
                              subgid_text=SUBUID, helpers=True)
    assert not m.single and m.warning() == ""
    assert m.size == 65637 and m.gid_size == 65637
    assert m.uid_map_text() == "0 1000 1\n1 100000 65536\n65537 500000 100\n"
    assert m.uid_to_host(0) == 1000
    assert m.uid_to_host(1000) == 100999  # container uid 1000 ↔ SUBUID_START + 999
    assert m.uid_to_host(65537) == 500000
    assert m.uid_to_host(70000) is None
    assert m.uid_to_container(100999) == 1000
    assert m.uid_to_container(1000) == 0
    assert m.uid_to_container(5) is None
    assert m.has_gid(5)


def test_compute_mapping_fallback_without_range():
    m = idmap.compute_mapping(uid=1234, gid=1234, user="zed", subuid_text=SUBUID,
                              subgid_text=SUBUID, helpers=True)
    assert m.single and m.size == 1
    assert m.uid_map_text() == "0 1234 1\n"
    assert not m.has_gid(5)
    w = m.warning()
    assert "\n" not in w and "/etc/subuid" in w and "/etc/subgid" in w
    assert w.endswith(idmap.usermod_fix("zed")) and " zed" in w


def test_free_subid_start_is_a_range_no_one_holds():
    # as useradd: the lowest gap of 65536 from 100000 on, over both files
    assert idmap.free_subid_start([]) == 100000
    assert idmap.free_subid_start(["alice:100000:65536\n"]) == 165536
    uids, gids = "alice:100000:65536\nbob:300000:65536\n", "carol:165536:1000\n"
    assert idmap.free_subid_start([uids, gids]) == 166536
    assert idmap.free_subid_start(["x:100000:1000\ny:170000:65536\n"]) == 101000
    assert idmap.free_subid_start(["# c:0:1\nbad line\nz:1:2:3\n"]) == 100000
    s = idmap.free_subid_start([uids, gids])
    assert "usermod --add-subuids" in idmap.usermod_fix("zed")
    assert s + 65535 < 300000


def test_compute_mapping_fallback_without_helpers():
    m = idmap.compute_mapping(uid=1000, gid=1000, user="alice", subuid_text=SUBUID,
                              subgid_text=SUBUID, helpers=False)
    assert m.single and "newuidmap" in m.warning()


def test_subgid_missing_only():
    m = idmap.compute_mapping(uid=1000, gid=1000, user="alice", subuid_text=SUBUID,
                              subgid_text="", helpers=True)
    assert m.single and "/etc/subgid" in m.warning() and "/etc/subuid " not in m.warning()


def test_map_text_round_trip_and_proc_format():
    text = "         0       1001          1\n         1     100000      65536\n"
    assert idmap.parse_map_text(text) == [(0, 1001, 1), (1, 100000, 65536)]
    r = idmap.build_ranges(1001, [(100000, 65536)])
    assert idmap.parse_map_text(idmap.map_text(r)) == [(0, 1001, 1), (1, 100000, 65536)]


def test_newidmap_argv():
    r = idmap.build_ranges(1001, [(100000, 65536)])
    assert idmap.newidmap_argv("/usr/bin/newuidmap", 42, r) == [
        "/usr/bin/newuidmap", "42", "0", "1001", "1", "1", "100000", "65536"]
