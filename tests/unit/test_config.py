"""registries.conf and containers.conf, read like containers/image and containers/common."""

from __future__ import annotations

import os

import pytest

from pypod import config, paths
from pypod.config import engine_config, load_containers_conf
from pypod.image import registries
from pypod.image.registries import RegistryEndpoint, load_registries
from pypod.errors import PypodError
from pypod.image.reference import parse

HEX = "0123456789abcdef" * 4


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """No host file leaks in: system paths point into tmp_path, HOME too."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    for var in ("CONTAINERS_REGISTRIES_CONF", "CONTAINERS_CONF", "CONTAINERS_CONF_OVERRIDE"):
        monkeypatch.delenv(var, raising=False)
    etc = tmp_path / "etc"
    monkeypatch.setattr(registries, "SYSTEM_REGISTRIES_CONF", etc / "registries.conf")
    monkeypatch.setattr(registries, "SYSTEM_REGISTRIES_CONF_D", etc / "registries.conf.d")
    monkeypatch.setattr(config, "SYSTEM_CONTAINERS_CONFS", (tmp_path / "usr" / "containers.conf",
                                                            etc / "containers.conf"))
    monkeypatch.setattr(config, "SYSTEM_CONTAINERS_CONF_D", etc / "containers.conf.d")
    monkeypatch.setattr(paths, "is_rootless", lambda: True)
    (tmp_path / "run").mkdir()
    monkeypatch.setattr(config, "_parsed_cache_path", lambda: str(tmp_path / "run" / "containers-conf.json"))
    config.clear_caches()
    registries.clear_cache()
    yield tmp_path
    config.clear_caches()
    registries.clear_cache()


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def use(tmp_path, monkeypatch, text):
    f = write(tmp_path / "registries.conf", text)
    monkeypatch.setenv("CONTAINERS_REGISTRIES_CONF", str(f))
    return f


# -- short names ---------------------------------------------------------------------------------

def test_search_registries_in_order_keeping_tag(tmp_path, monkeypatch):
    use(tmp_path, monkeypatch, 'unqualified-search-registries = ["localhost:5000", "quay.io", "docker.io"]\n')
    got = [str(r) for r in load_registries().resolve_short_name("busybox:1.36")]
    assert got == ["localhost:5000/busybox:1.36", "quay.io/busybox:1.36", "docker.io/library/busybox:1.36"]


def test_search_keeps_namespace_and_digest(tmp_path, monkeypatch):
    use(tmp_path, monkeypatch, 'unqualified-search-registries = ["docker.io", "quay.io"]\n')
    got = [str(r) for r in load_registries().resolve_short_name(f"myorg/app@sha256:{HEX}")]
    assert got == [f"docker.io/myorg/app@sha256:{HEX}", f"quay.io/myorg/app@sha256:{HEX}"]
    got = [str(r) for r in load_registries().resolve_short_name("library/busybox")]
    assert got == ["docker.io/library/busybox:latest", "quay.io/library/busybox:latest"]


def test_alias_wins_over_search(tmp_path, monkeypatch):
    f = use(tmp_path, monkeypatch, '''
unqualified-search-registries = ["docker.io"]
[aliases]
"myalias" = "localhost:5/aliased/thing"
"alpine" = "docker.io/alpine"
''')
    cfg = load_registries()
    assert [str(r) for r in cfg.resolve_short_name("myalias:v2")] == ["localhost:5/aliased/thing:v2"]
    assert [str(r) for r in cfg.resolve_short_name("alpine")] == ["docker.io/library/alpine:latest"]
    assert cfg.alias_origins["myalias"] == str(f)
    # not short: returned as is, aliases do not apply
    assert [str(r) for r in cfg.resolve_short_name("quay.io/myalias")] == ["quay.io/myalias:latest"]


@pytest.mark.parametrize("alias, message", [
    ('"x" = "x/y"', "must contain registry"),
    ('"x" = "quay.io/y:1"', "must not contain tag"),
    (f'"x" = "quay.io/y@sha256:{HEX}"', "must not contain digest"),
    ('"quay.io/x" = "quay.io/y"', "must not contain registry"),
    ('"x:1" = "quay.io/y"', "must not contain tag"),
])
def test_bad_aliases(tmp_path, monkeypatch, alias, message):
    use(tmp_path, monkeypatch, f"[aliases]\n{alias}\n")
    with pytest.raises(PypodError, match=message):
        load_registries()


def test_no_search_registries_gives_no_candidates(tmp_path, monkeypatch):
    f = use(tmp_path, monkeypatch, "# nothing\n")
    cfg = load_registries()
    assert cfg.resolve_short_name("busybox") == []
    assert cfg.search_origin == str(f)


def test_no_registries_conf_at_all_defaults_to_docker_hub():
    cfg = load_registries()
    assert cfg.search == ["docker.io"]
    assert cfg.search_origin == registries.BUILTIN_ORIGIN
    assert cfg.files == []


# -- [[registry]] --------------------------------------------------------------------------------

MIRRORS = '''
[[registry]]
prefix = "docker.io/library"
location = "localhost:2/lib"
[[registry.mirror]]
location = "localhost:3/mirror"
insecure = true
[[registry.mirror]]
location = "localhost:6"
pull-from-mirror = "digest-only"
'''


def test_mirrors_first_then_primary_with_rewritten_names(tmp_path, monkeypatch):
    use(tmp_path, monkeypatch, MIRRORS)
    cfg = load_registries()
    got = cfg.endpoints(parse("busybox:1.36"))
    assert got == [
        (RegistryEndpoint("localhost:3/mirror", True), "localhost:3/mirror/busybox"),
        (RegistryEndpoint("localhost:2/lib", False), "localhost:2/lib/busybox"),
    ]
    sources = cfg.pull_sources(parse(f"busybox@sha256:{HEX}"))
    assert [str(r) for _, r in sources] == [
        f"localhost:3/mirror/busybox@sha256:{HEX}",
        f"localhost:6/busybox@sha256:{HEX}",
        f"localhost:2/lib/busybox@sha256:{HEX}",
    ]
    assert sources[0][1].registry == "localhost:3" and sources[0][1].repository == "mirror/busybox"


def test_unmatched_reference_is_its_own_endpoint(tmp_path, monkeypatch):
    use(tmp_path, monkeypatch, MIRRORS)
    assert load_registries().endpoints(parse("quay.io/a/b")) == [(RegistryEndpoint("quay.io", False), "quay.io/a/b")]
    # docker.io/myorg does not match the docker.io/library prefix
    assert load_registries().find("docker.io/myorg/app") is None


def test_longest_prefix_wins_and_boundaries(tmp_path, monkeypatch):
    use(tmp_path, monkeypatch, '''
[[registry]]
location = "example.com"
[[registry]]
prefix = "example.com/foo"
location = "other.example.com/bar"
''')
    cfg = load_registries()
    assert cfg.find("example.com/foo/x").location == "other.example.com/bar"
    assert cfg.find("example.com/foobar/x").location == "example.com"
    assert cfg.find("example.com").location == "example.com"
    assert cfg.find("example.community/x") is None
    assert cfg.endpoints(parse("example.com/foo/x:1"))[-1][1] == "other.example.com/bar/x"


def test_blocked(tmp_path, monkeypatch):
    use(tmp_path, monkeypatch, '''
[[registry]]
location = "bad.example.com"
blocked = true
''')
    cfg = load_registries()
    assert cfg.is_blocked(parse("bad.example.com/x"))
    assert not cfg.is_blocked(parse("good.example.com/x"))


def test_wildcard_prefix(tmp_path, monkeypatch):
    use(tmp_path, monkeypatch, '''
[[registry]]
prefix = "*.example.com"
location = "localhost:4"
insecure = true
[[registry]]
prefix = "*.blocked.io"
blocked = true
''')
    cfg = load_registries()
    assert cfg.find("foo.example.com/x/y").location == "localhost:4"
    assert cfg.find("a.b.example.com").location == "localhost:4"
    assert cfg.find("example.com/x") is None
    assert cfg.find("foo.example.community/x") is None
    assert cfg.find("quay.io/foo.example.com/x") is None
    assert cfg.endpoints(parse("foo.example.com/x/y:3")) == [(RegistryEndpoint("localhost:4", True), "localhost:4/x/y")]
    assert cfg.is_insecure("bar.example.com")
    assert cfg.is_blocked(parse("reg.blocked.io/x"))
    # a wildcard without a location pulls from the reference itself
    assert cfg.endpoints(parse("reg.blocked.io/x"))[0][1] == "reg.blocked.io/x"


def test_insecure_hosts(tmp_path, monkeypatch):
    use(tmp_path, monkeypatch, MIRRORS + '''
[[registry]]
location = "localhost:5000"
insecure = true
''')
    cfg = load_registries()
    assert cfg.is_insecure("localhost:5000")
    assert cfg.is_insecure("localhost:3")  # a mirror's host
    assert not cfg.is_insecure("localhost:2")
    assert not cfg.is_insecure("quay.io")


def test_v1_format(tmp_path, monkeypatch):
    use(tmp_path, monkeypatch, '''
[registries.search]
registries = ["quay.io", "docker.io"]
[registries.insecure]
registries = ["localhost:5000"]
[registries.block]
registries = ["evil.io"]
''')
    cfg = load_registries()
    assert cfg.search == ["quay.io", "docker.io"]
    assert cfg.is_insecure("localhost:5000")
    assert cfg.is_blocked(parse("evil.io/x"))
    assert [str(r) for r in cfg.resolve_short_name("busybox")] == ["quay.io/busybox:latest",
                                                                    "docker.io/library/busybox:latest"]


def test_mixing_v1_and_v2_is_an_error(tmp_path, monkeypatch):
    use(tmp_path, monkeypatch, 'unqualified-search-registries = ["a.io"]\n[registries.search]\nregistries = ["b.io"]\n')
    with pytest.raises(PypodError, match="mixing sysregistry v1/v2 is not supported"):
        load_registries()


@pytest.mark.parametrize("text, message", [
    ('[[registry]]\nlocation = "https://x.io"\n', "URI schemes are not supported"),
    ('[[registry]]\ninsecure = true\n', "both location and prefix are unset"),
    ('[[registry]]\nprefix = "x.io"\n', "location is unset"),
    ('[[registry]]\nlocation = "x.io"\ninsecure = "yes"\n', "expected a boolean"),
    ('[[registry]]\nlocation = "x.io"\n[[registry]]\nprefix = "x.io/a"\nlocation = "x.io"\ninsecure = true\n',
     "conflicting 'insecure'"),
    ('short-name-mode = "sometimes"\n', "invalid short name mode"),
    ('unqualified-search-registries = ["bad host"]\n', "unqualified-search-registries"),
])
def test_invalid_registries_conf(tmp_path, monkeypatch, text, message):
    f = use(tmp_path, monkeypatch, text)
    with pytest.raises(PypodError, match=message) as e:
        load_registries()
    assert str(f) in e.value.message


def test_bad_toml_is_one_line_with_the_file(tmp_path, monkeypatch):
    f = use(tmp_path, monkeypatch, "unqualified-search-registries = [\n")
    with pytest.raises(PypodError) as e:
        load_registries()
    assert e.value.message.startswith(f"{f}: ")
    assert "\n" not in e.value.message


# -- which files -----------------------------------------------------------------------------------

def test_env_file_alone(tmp_path, monkeypatch):
    write(tmp_path / "home/.config/containers/registries.conf", 'unqualified-search-registries = ["user.io"]\n')
    write(registries.SYSTEM_REGISTRIES_CONF_D / "a.conf", 'unqualified-search-registries = ["dropin.io"]\n')
    use(tmp_path, monkeypatch, 'unqualified-search-registries = ["env.io"]\n')
    assert load_registries().search == ["env.io"]


def test_explicit_path_argument(tmp_path):
    f = write(tmp_path / "other.conf", 'unqualified-search-registries = ["arg.io"]\n')
    assert load_registries(str(f)).search == ["arg.io"]


def test_user_file_over_system_file(tmp_path):
    write(registries.SYSTEM_REGISTRIES_CONF, 'unqualified-search-registries = ["system.io"]\n')
    write(registries.SYSTEM_REGISTRIES_CONF_D / "a.conf", '[aliases]\n"sys" = "system.io/sys"\n')
    user = write(tmp_path / "home/.config/containers/registries.conf", 'unqualified-search-registries = ["user.io"]\n')
    cfg = load_registries()
    assert cfg.search == ["user.io"]
    assert cfg.files == [str(user)]
    assert "sys" not in cfg.aliases  # the system drop-ins go with the system file


def test_xdg_config_home_is_honoured(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    write(tmp_path / "xdg/containers/registries.conf", 'unqualified-search-registries = ["xdg.io"]\n')
    assert load_registries().search == ["xdg.io"]


def test_system_file_and_drop_ins_merge_in_order(tmp_path):
    write(registries.SYSTEM_REGISTRIES_CONF, '''
unqualified-search-registries = ["system.io"]
[[registry]]
location = "a.io"
[aliases]
"one" = "system.io/one"
"two" = "system.io/two"
''')
    write(registries.SYSTEM_REGISTRIES_CONF_D / "10-a.conf", '''
[[registry]]
location = "a.io"
insecure = true
[aliases]
"two" = ""
''')
    write(registries.SYSTEM_REGISTRIES_CONF_D / "20-b.conf", 'unqualified-search-registries = ["dropin.io"]\n')
    write(registries.SYSTEM_REGISTRIES_CONF_D / "ignored.txt", "not toml [")
    write(tmp_path / "home/.config/containers/registries.conf.d/99-user.conf", 'short-name-mode = "permissive"\n')
    cfg = load_registries()
    assert cfg.search == ["dropin.io"]
    assert cfg.search_origin.endswith("20-b.conf")
    assert cfg.is_insecure("a.io")
    assert cfg.aliases == {"one": "system.io/one"}
    assert cfg.short_name_mode == "permissive"
    assert len(cfg.files) == 4


def test_drop_ins_must_be_v2(tmp_path):
    write(registries.SYSTEM_REGISTRIES_CONF_D / "a.conf", '[registries.search]\nregistries = ["x.io"]\n')
    with pytest.raises(PypodError, match="must be in v2 format"):
        load_registries()


def test_cache_sees_a_changed_file(tmp_path, monkeypatch):
    f = use(tmp_path, monkeypatch, 'unqualified-search-registries = ["one.io"]\n')
    first = load_registries()
    assert load_registries() is first
    f.write_text('unqualified-search-registries = ["two.io", "three.io"]\n')
    assert load_registries().search == ["two.io", "three.io"]


# -- containers.conf -------------------------------------------------------------------------------
def test_merged_containers_conf_is_kept_for_the_next_process(tmp_path, monkeypatch):
    f = write(tmp_path / "c.conf", '[engine]\nstop_timeout = 7\n[containers]\nenv = ["A=1"]\n')
    monkeypatch.setenv("CONTAINERS_CONF", str(f))
    assert engine_config().stop_timeout == 7
    config.clear_caches()  # as in a new process: no tomllib, the parsed copy is read back

    def no_parse(path):
        raise AssertionError(f"{path} parsed again")

    read_toml = config.read_toml
    monkeypatch.setattr(config, "read_toml", no_parse)
    cfg = engine_config()
    assert (cfg.stop_timeout, cfg.env) == (7, ["A=1"])
    assert config._load_containers_conf()[1][("engine", "stop_timeout")] == str(f)
    monkeypatch.setattr(config, "read_toml", read_toml)
    config.clear_caches()
    f.write_text('[engine]\nstop_timeout = 8\n')
    st = f.stat()
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))  # a later write, however coarse the clock
    assert engine_config().stop_timeout == 8



def test_engine_defaults_without_files():
    cfg = engine_config()
    assert cfg.default_rootless_network_cmd == "slirp4netns"
    assert cfg.stop_timeout == 10
    assert cfg.log_driver == "k8s-file"
    assert cfg.events_logger == "file"
    assert cfg.pids_limit == 2048
    assert cfg.shm_size == "65536k"
    assert cfg.umask == "0022"
    assert cfg.tz is None and cfg.init_path is None and cfg.default_capabilities is None
    assert "CHOWN" in cfg.capabilities
    assert cfg.image_default_transport == "docker://"


def test_containers_conf_env(tmp_path, monkeypatch):
    f = write(tmp_path / "c.conf", '''
[containers]
env = ["FOO=bar"]
default_ulimits = ["nofile=1024:2048"]
default_capabilities = ["CHOWN"]
default_sysctls = ["net.ipv4.ping_group_range=0 0"]
init_path = "/usr/bin/catatonit"
pids_limit = 100
shm_size = "1g"
tz = "UTC"
umask = "0077"
log_driver = "none"
[engine]
stop_timeout = 3
events_logger = "none"
network_cmd_path = "/opt/slirp4netns"
[network]
default_rootless_network_cmd = "pasta"
[future]
whatever = 1
''')
    monkeypatch.setenv("CONTAINERS_CONF", str(f))
    cfg = engine_config()
    assert cfg.env == ["FOO=bar"]
    assert cfg.default_ulimits == ["nofile=1024:2048"]
    assert cfg.capabilities == ["CHOWN"]
    assert cfg.default_sysctls == ["net.ipv4.ping_group_range=0 0"]
    assert cfg.init_path == "/usr/bin/catatonit"
    assert (cfg.pids_limit, cfg.shm_size, cfg.tz, cfg.umask, cfg.log_driver) == (100, "1g", "UTC", "0077", "none")
    assert (cfg.stop_timeout, cfg.events_logger, cfg.network_cmd_path) == (3, "none", "/opt/slirp4netns")
    assert cfg.default_rootless_network_cmd == "pasta"
    raw = load_containers_conf()
    assert raw["future"] == {"whatever": 1}
    raw["future"]["whatever"] = 2  # a copy
    assert load_containers_conf()["future"] == {"whatever": 1}


def test_containers_conf_layers(tmp_path):
    write(config.SYSTEM_CONTAINERS_CONFS[0], '[containers]\ntz = "local"\npids_limit = 5\n[engine]\nstop_timeout = 20\n')
    write(config.SYSTEM_CONTAINERS_CONFS[1], '[containers]\npids_limit = 6\n')
    write(config.SYSTEM_CONTAINERS_CONF_D / "a.conf", '[engine]\nstop_timeout = 30\n')
    write(tmp_path / "home/.config/containers/containers.conf", '[containers]\npids_limit = 7\n')
    cfg = engine_config()
    assert (cfg.tz, cfg.pids_limit, cfg.stop_timeout) == ("local", 7, 30)


def test_containers_conf_env_replaces_the_layers(tmp_path, monkeypatch):
    write(config.SYSTEM_CONTAINERS_CONFS[1], '[containers]\ntz = "local"\n')
    f = write(tmp_path / "only.conf", '[containers]\npids_limit = 1\n')
    monkeypatch.setenv("CONTAINERS_CONF", str(f))
    cfg = engine_config()
    assert (cfg.tz, cfg.pids_limit) == (None, 1)


def test_containers_conf_missing_env_file(tmp_path, monkeypatch):
    monkeypatch.setenv("CONTAINERS_CONF", str(tmp_path / "nope.conf"))
    with pytest.raises(PypodError, match="CONTAINERS_CONF file"):
        engine_config()


def test_containers_conf_bad_toml(tmp_path, monkeypatch):
    f = write(tmp_path / "c.conf", "[containers\n")
    monkeypatch.setenv("CONTAINERS_CONF", str(f))
    with pytest.raises(PypodError) as e:
        load_containers_conf()
    assert e.value.message.startswith(f"{f}: ") and "\n" not in e.value.message


def test_containers_conf_wrong_type_names_file_and_key(tmp_path, monkeypatch):
    f = write(tmp_path / "c.conf", '[engine]\nstop_timeout = "ten"\n')
    monkeypatch.setenv("CONTAINERS_CONF", str(f))
    with pytest.raises(PypodError, match=r"\[engine\] stop_timeout: expected an integer") as e:
        engine_config()
    assert str(f) in e.value.message

