"""Owned temp work (store/owned.py) and damaged records (store/db.py, jsonlite): pure logic on a
temp dir."""

from __future__ import annotations

import os
import time

import pytest

from pypod import jsonlite
from pypod.linux import proc
from pypod.store import db, owned


def test_an_owned_name_names_this_process_and_a_fresh_one_each_time():
    a, b = owned.name(".tmp-"), owned.name(".tmp-", "rm")
    assert a != b and b.endswith("-rm")
    assert owned.owner(a, ".tmp-") == (os.getpid(), proc.starttime(os.getpid()))
    assert owned.owner(".tmp-d5566cde43324983", ".tmp-") is None  # the old unowned form
    assert owned.owner(".rm-x_y-abc", ".rm-") is None


def test_only_a_dead_owners_entries_are_claimed(tmp_path):
    mine = tmp_path / owned.name(".tmp-")
    pid = os.getpid()
    recycled = tmp_path / f".tmp-{pid}_1-aaaa"  # our pid, another start time: its owner is gone
    gone = tmp_path / ".tmp-999999999_5-bbbb"
    old = tmp_path / ".tmp-0123456789abcdef"
    new = tmp_path / ".tmp-fedcba9876543210"
    other = tmp_path / "layerid"
    for d in (mine, recycled, gone, old, new, other):
        d.mkdir()
    os.utime(old, (time.time() - 2 * owned.UNOWNED_AGE,) * 2)
    claimed = owned.claim_orphans(tmp_path, (".tmp-",))
    assert len(claimed) == 3
    left = set(os.listdir(tmp_path))
    assert {mine.name, new.name, other.name} <= left
    assert not {recycled.name, gone.name, old.name} & left
    # a claim is the claimer's: not an orphan while it lives
    assert all(owned.owner(os.path.basename(c), ".tmp-")[0] == pid for c in claimed)
    assert owned.claim_orphans(tmp_path, (".tmp-",)) == []


@pytest.mark.parametrize("text", ['{"id": "ab', '{"id": "ab", ', '{', '[1, {"a": [', '{"a": 1}x'])
def test_truncated_json_is_a_value_error(text):
    with pytest.raises(ValueError):
        jsonlite.loads(text)


def test_read_record_tells_missing_from_damaged(tmp_path):
    p = tmp_path / "r.json"
    assert db.read_record(p) is None
    p.write_text('{"id": "x"}')
    assert db.read_record(p) == {"id": "x"}
    for bad in ('{"id": "x', "", "[1]", "\xff"):
        p.write_bytes(bad.encode("latin-1"))
        with pytest.raises(db.Damaged) as e:
            db.read_record(p)
        assert e.value.path == str(p)
