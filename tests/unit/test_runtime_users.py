"""-u resolution inside the container's passwd/group (podman/runc semantics)."""

import pytest

from pypod.runtime.users import UserError, resolve

PASSWD = "root:x:0:0:root:/root:/bin/sh\nalice:x:1000:1000:A:/home/alice:/bin/sh\n" \
         "svc:x:999:998::/srv:/bin/false\n"
GROUP = "root:x:0:\nalice:x:1000:\nstaff:x:50:alice,bob\nwheel:x:10:bob\nsvcg:x:998:\n" \
        "docker:x:60:alice\n"


def test_default_is_root():
    u = resolve("", PASSWD, GROUP)  # podman: no user given, no supplementary groups
    assert (u.uid, u.gid, u.groups, u.home) == (0, 0, [], "/root")
    u = resolve("0", PASSWD, GROUP)
    assert (u.uid, u.gid, u.groups, u.home) == (0, 0, [0], "/root")


def test_missing_numeric_user_gets_podman_entries():
    from pypod.runtime.users import missing_entries

    assert missing_entries("1000", "/", "", PASSWD, GROUP) == ("", "")  # alice has it
    assert missing_entries("4242", "/w", "", PASSWD, GROUP) == (
        "4242:*:4242:0:container user:/w:/bin/sh", "4242:x:4242:4242")
    assert missing_entries("4242:staff", "/", "", PASSWD, GROUP) == (
        "4242:*:4242:50:container user:/:/bin/sh", "")
    assert missing_entries("4242:77", "/", "", PASSWD, GROUP) == (
        "4242:*:4242:77:container user:/:/bin/sh", "77:x:77:4242")
    assert missing_entries("alice", "/", "", PASSWD, GROUP) == ("", "")  # names: never
    assert missing_entries("4242:5", "/h", "$USERNAME:x:$UID:$GID:$NAME:$HOME:/bin/false",
                           PASSWD, GROUP)[0] == "4242:x:4242:5:container user:/h:/bin/false"
    with pytest.raises(UserError, match="unable to get gid nogroup"):
        missing_entries("4242:nogroup", "/", "", PASSWD, GROUP)


def test_name():
    u = resolve("alice", PASSWD, GROUP)
    assert (u.uid, u.gid, u.home) == (1000, 1000, "/home/alice")
    assert u.groups == [1000, 50, 60]


def test_numeric_with_entry_uses_entry():
    u = resolve("1000", PASSWD, GROUP)
    assert (u.uid, u.gid, u.groups) == (1000, 1000, [1000, 50, 60])


def test_numeric_without_entry():
    u = resolve("4242", PASSWD, GROUP)
    assert (u.uid, u.gid, u.groups, u.home) == (4242, 0, [0], "/")
    u = resolve("4242:4343", PASSWD, GROUP)
    assert (u.uid, u.gid, u.groups) == (4242, 4343, [4343])


def test_explicit_group_no_supplementary():
    u = resolve("alice:staff", PASSWD, GROUP)
    assert (u.uid, u.gid, u.groups) == (1000, 50, [50])
    u = resolve("alice:7", PASSWD, GROUP)
    assert (u.gid, u.groups) == (7, [7])


def test_missing_names():
    with pytest.raises(UserError, match=r"^unable to find user bob: no matching entries in "
                                         r"passwd file$"):
        resolve("bob", PASSWD, GROUP)
    with pytest.raises(UserError, match="unable to find group nogroup: no matching entries in "
                                        "group file"):
        resolve("alice:nogroup", PASSWD, GROUP)


def test_no_files_at_all():
    assert resolve("0", "", "").uid == 0
    with pytest.raises(UserError):
        resolve("root", "", "")
