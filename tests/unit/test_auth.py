"""Credentials in podman's auth.json place and format (behaviour checked against podman 4.3.1)."""

from __future__ import annotations

import base64
import json
import os
import stat

import pytest

from pypod import paths
from pypod.image import registries
from pypod.errors import InvalidArgument, PypodError
from pypod.image import auth
from pypod.image.auth import (get_credentials, normalize_registry_key, parse_creds, remove_credentials,
                              store_credentials)


def b64(s: str) -> str:
    return base64.b64encode(s.encode()).decode()


@pytest.fixture(autouse=True)
def env(tmp_path, monkeypatch):
    home = tmp_path / "home"
    run = tmp_path / "run"
    home.mkdir()
    run.mkdir(mode=0o700)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(run))
    monkeypatch.delenv("REGISTRY_AUTH_FILE", raising=False)
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    monkeypatch.setattr(paths, "is_rootless", lambda: True)  # never /run/containers/0 in tests
    return tmp_path


def runtime_auth(tmp_path):
    return tmp_path / "run" / "containers" / "auth.json"


def docker_config(tmp_path):
    return tmp_path / "home" / ".docker" / "config.json"


def put(path, data):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
    return path


def test_round_trip_in_the_default_place(tmp_path):
    f = store_credentials("localhost:5000", "user", "pa:ss")
    assert f == runtime_auth(tmp_path)
    assert stat.S_IMODE(f.stat().st_mode) == 0o600
    assert stat.S_IMODE(f.parent.stat().st_mode) == 0o700
    assert json.loads(f.read_text()) == {"auths": {"localhost:5000": {"auth": b64("user:pa:ss")}}}
    assert get_credentials("localhost:5000") == ("user", "pa:ss")
    assert get_credentials("localhost:5001") is None


def test_store_keeps_other_entries_and_keys(tmp_path):
    f = put(runtime_auth(tmp_path), {
        "auths": {"quay.io": {"auth": b64("q:p")}, "https://index.docker.io/v1/": {"auth": b64("old:x")}},
        "HttpHeaders": {"User-Agent": "x"},
    })
    os.chmod(f, 0o644)
    store_credentials("docker.io", "new", "pw")
    data = json.loads(f.read_text())
    assert data["HttpHeaders"] == {"User-Agent": "x"}
    assert data["auths"] == {"quay.io": {"auth": b64("q:p")}, "docker.io": {"auth": b64("new:pw")}}
    assert stat.S_IMODE(f.stat().st_mode) == 0o600
    assert [p.name for p in f.parent.iterdir()] == ["auth.json"]  # no temp file left


def test_store_to_an_explicit_authfile(tmp_path):
    target = tmp_path / "deep" / "er" / "auth.json"
    assert store_credentials("https://quay.io/", "u", "p", authfile=str(target)) == target
    assert json.loads(target.read_text()) == {"auths": {"quay.io": {"auth": b64("u:p")}}}
    assert stat.S_IMODE((tmp_path / "deep").stat().st_mode) == 0o700
    assert not runtime_auth(tmp_path).exists()
    assert get_credentials("quay.io", authfile=str(target)) == ("u", "p")


def test_registry_auth_file_env(tmp_path, monkeypatch):
    target = tmp_path / "env-auth.json"
    monkeypatch.setenv("REGISTRY_AUTH_FILE", str(target))
    store_credentials("quay.io", "u", "p")
    assert target.exists() and not runtime_auth(tmp_path).exists()
    assert get_credentials("quay.io") == ("u", "p")


def test_authfile_replaces_the_list(tmp_path):
    put(runtime_auth(tmp_path), {"auths": {"quay.io": {"auth": b64("u:p")}}})
    other = put(tmp_path / "other.json", {"auths": {}})
    assert get_credentials("quay.io", authfile=str(other)) is None


def test_docker_config_url_key_means_docker_io(tmp_path):
    put(docker_config(tmp_path), {"auths": {"https://index.docker.io/v1/": {"auth": b64("hub:secret")}}})
    assert get_credentials("docker.io", "library/busybox") == ("hub", "secret")
    assert get_credentials("index.docker.io") == ("hub", "secret")
    assert get_credentials("quay.io") is None


def test_auth_json_comes_before_docker_config(tmp_path):
    put(runtime_auth(tmp_path), {"auths": {"quay.io": {"auth": b64("podman:1")}}})
    put(docker_config(tmp_path), {"auths": {"quay.io": {"auth": b64("docker:2")},
                                            "ghcr.io": {"auth": b64("docker:3")}}})
    assert get_credentials("quay.io") == ("podman", "1")
    assert get_credentials("ghcr.io") == ("docker", "3")


def test_longest_namespaced_match_wins(tmp_path):
    put(runtime_auth(tmp_path), {"auths": {
        "quay.io": {"auth": b64("registry:0")},
        "quay.io/org": {"auth": b64("org:1")},
        "quay.io/org/team": {"auth": b64("team:2")},
    }})
    assert get_credentials("quay.io", "org/team/app") == ("team", "2")
    assert get_credentials("quay.io", "org/app") == ("org", "1")
    assert get_credentials("quay.io", "orgx/app") == ("registry", "0")
    assert get_credentials("quay.io") == ("registry", "0")


def test_namespaced_entry_alone_does_not_cover_the_registry(tmp_path):
    put(runtime_auth(tmp_path), {"auths": {"quay.io/org": {"auth": b64("org:1")}}})
    assert get_credentials("quay.io") is None
    assert get_credentials("quay.io", "other/app") is None


def test_identity_token(tmp_path):
    put(runtime_auth(tmp_path), {"auths": {
        "a.io": {"auth": b64("user:"), "identitytoken": "refresh-me"},
        "b.io": {"identitytoken": "only-token"},
    }})
    creds = get_credentials("a.io")
    assert creds == ("user", "")
    assert creds.identity_token == "refresh-me"
    user, password = get_credentials("b.io")
    assert (user, password) == ("<token>", "")
    assert get_credentials("b.io").identity_token == "only-token"
    assert "refresh-me" not in repr(creds)


def test_empty_entry_is_skipped_for_the_next_file(tmp_path):
    put(runtime_auth(tmp_path), {"auths": {"quay.io": {}}})
    put(docker_config(tmp_path), {"auths": {"quay.io": {"auth": b64("d:p")}}})
    assert get_credentials("quay.io") == ("d", "p")


def test_cred_helpers_are_refused_clearly(tmp_path):
    put(docker_config(tmp_path), {"auths": {}, "credHelpers": {"gcr.io": "gcloud"}})
    with pytest.raises(PypodError, match="docker-credential-gcloud"):
        get_credentials("gcr.io")
    assert get_credentials("quay.io") is None


def test_creds_store_refused_only_where_it_holds_the_entry(tmp_path):
    put(docker_config(tmp_path), {"auths": {"https://index.docker.io/v1/": {}}, "credsStore": "desktop"})
    with pytest.raises(PypodError, match="docker-credential-desktop"):
        get_credentials("docker.io")
    assert get_credentials("quay.io") is None  # anonymous pulls still work


def test_broken_files(tmp_path):
    f = put(runtime_auth(tmp_path), {})
    f.write_text("{not json")
    with pytest.raises(PypodError, match="unmarshaling JSON"):
        get_credentials("quay.io")
    put(runtime_auth(tmp_path), {"auths": {"quay.io": {"auth": "!!!"}}})
    with pytest.raises(PypodError, match="base64"):
        get_credentials("quay.io")


def test_logout(tmp_path):
    f = put(runtime_auth(tmp_path), {"auths": {"quay.io/org": {"auth": b64("u:p")},
                                               "docker.io": {"auth": b64("u:p")}}})
    assert remove_credentials("quay.io") is False  # podman: "not logged into quay.io"
    assert remove_credentials("localhost:5000") is False
    assert remove_credentials("quay.io/org") is True
    assert json.loads(f.read_text()) == {"auths": {"docker.io": {"auth": b64("u:p")}}}
    assert stat.S_IMODE(f.stat().st_mode) == 0o600
    assert remove_credentials("https://index.docker.io/v1/") is True
    assert json.loads(f.read_text()) == {"auths": {}}


def test_logout_all_keeps_other_keys(tmp_path):
    f = put(runtime_auth(tmp_path), {"auths": {"a.io": {"auth": b64("u:p")}}, "HttpHeaders": {"X": "y"}})
    assert remove_credentials(None, all=True) is True
    assert json.loads(f.read_text()) == {"auths": {}, "HttpHeaders": {"X": "y"}}
    assert remove_credentials(None, all=True) is False


def test_logout_without_a_file_or_registry(tmp_path, monkeypatch):
    assert remove_credentials("quay.io") is False
    conf = tmp_path / "registries.conf"
    conf.write_text("")
    monkeypatch.setenv("CONTAINERS_REGISTRIES_CONF", str(conf))
    registries.clear_cache()
    with pytest.raises(InvalidArgument, match="a registry must be provided"):
        remove_credentials(None)
    conf.write_text('unqualified-search-registries = ["quay.io"]\n')
    registries.clear_cache()
    store_credentials("quay.io", "u", "p")
    assert remove_credentials(None) is True
    registries.clear_cache()


def test_login_key_must_not_have_tag_or_digest():
    with pytest.raises(InvalidArgument, match="contains tag or digest"):
        store_credentials("docker.io/library/busybox:latest", "u", "p")
    with pytest.raises(InvalidArgument):
        store_credentials("quay.io", "", "p")
    with pytest.raises(InvalidArgument):
        store_credentials("quay.io", "a:b", "p")


@pytest.mark.parametrize("text, want", [
    ("https://index.docker.io/v1/", "docker.io"),
    ("docker.io", "docker.io"),
    ("index.docker.io", "docker.io"),
    ("registry-1.docker.io", "docker.io"),
    ("http://localhost:5000/v2/", "localhost:5000"),
    ("localhost:5000/", "localhost:5000"),
    ("quay.io/org/", "quay.io/org"),
])
def test_normalize_registry_key(text, want):
    assert normalize_registry_key(text) == want


def test_parse_creds():
    assert parse_creds("user:pa:ss") == ("user", "pa:ss")
    assert parse_creds("user") == ("user", "")
    assert parse_creds("user:") == ("user", "")
    with pytest.raises(InvalidArgument):
        parse_creds(":secret")
    with pytest.raises(InvalidArgument):
        parse_creds("")


def test_check_auth_file(tmp_path):
    auth.check_auth_file(None)
    with pytest.raises(PypodError, match="checking authfile"):
        auth.check_auth_file(str(tmp_path / "missing.json"))
