"""pypod/store/lookup.py: podman's order for what a user typed (full ID, name, unique ID prefix)."""

from types import SimpleNamespace as R

import pytest

from pypod.store.lookup import by_id_prefix, by_name_or_id, is_hex


class Ambiguous(Exception):
    pass


A = R(id="ab" + "0" * 62, name="web")
B = R(id="ac" + "1" * 62, name="db")
C = R(id="cd" + "2" * 62, name=A.id)  # named like another's full ID


def find(name, recs=(A, B, C), get=None):
    return by_name_or_id(list(recs), name, Ambiguous, get=get)


def test_full_id_then_name_then_unique_prefix():
    by_id = {r.id: r for r in (A, B, C)}.get
    assert find(A.id, get=by_id) is A  # the full ID wins over C's name
    assert find(A.id) is C             # without a reader by ID, the name comes first (networks)
    assert find("db") is B
    assert find("ac") is B and find("c") is C
    assert find("ab" + "0" * 62 + "0") is None


def test_an_ambiguous_prefix_raises_the_callers_error_or_finds_nothing():
    with pytest.raises(Ambiguous):
        find("a")
    assert by_id_prefix([A, B], "a", None) is None
    assert by_id_prefix([A, B], "ab", None) is A


def test_only_lower_case_hex_is_a_prefix():
    assert find("AB") is None and find("") is None and find("ab-") is None
    assert not is_hex("") and is_hex("0" * 64) and not is_hex("0" * 65) and not is_hex("ab", 3)


def test_the_scan_stops_at_the_name_and_reads_by_id_only_a_full_id():
    read = []

    def lazy():
        for r in (A, B, C):
            read.append(r.name)
            yield r

    assert by_name_or_id(lazy(), "db", Ambiguous) is B and read == ["web", "db"]
    asked = []
    by_name_or_id([A], "ab", Ambiguous, get=lambda i: asked.append(i))
    by_name_or_id([A], "../" + "a" * 61, Ambiguous, get=lambda i: asked.append(i))
    assert asked == []
