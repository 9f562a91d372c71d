"""The options `create`/`run` take (CreateOptions) and the helpers that turn its environment,
labels, restart policy, healthcheck and entrypoint flags into the record's values.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from pypod.errors import InvalidArgument, PypodError
from pypod.record import Record


DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class CreateOptions(Record):
    """What `create`/`run` were asked for (resources: memory, cpus, pids_limit, ... are warned about)."""

    FIELDS = (
        ("image", ""),
        ("command", list),
        ("name", None),
        ("entrypoint", None),
        ("env", list),
        ("env_file", list),
        ("env_host", False),
        ("workdir", None),
        ("user", None),
        ("hostname", None),
        ("labels", list),
        ("annotations", list),
        ("stop_signal", None),
        ("stop_timeout", None),
        ("restart", "no"),
        ("health_cmd", None),
        ("health_interval", None),
        ("health_retries", None),
        ("health_start_period", None),
        ("health_timeout", None),
        ("no_healthcheck", False),
        ("rm", False),
        ("interactive", False),
        ("tty", False),
        ("network", None),
        # Docker's default network (the API's create): podman's `podman` bridge, rootless too, as
        # podman's compat API does — not slirp4netns, the CLI's rootless default
        ("docker_default_network", False),
        ("volumes", list),
        ("tmpfs", list),
        ("mounts", list),
        ("volumes_from", list),
        ("image_volume", None),     # bind | tmpfs | ignore: the image's VOLUMEs (None: containers.conf)
        ("dns", list),
        ("dns_search", list),
        ("dns_option", list),
        ("add_host", list),
        ("rootfs", False),
        ("read_only", False),
        ("replace", False),
        ("pull", "missing"),
        ("platform", None),
        ("quiet_pull", False),
        ("publish", list),
        ("publish_all", False),
        ("resources", dict),
        ("cap_add", list),
        ("cap_drop", list),
        ("privileged", False),
        ("security_opt", list),
        ("ulimit", list),
        ("group_add", list),
        ("init", False),
        ("init_path", None),
        ("read_only_tmpfs", True),
        ("userns", None),
        ("network_aliases", list),
        ("uidmap", list),
        ("gidmap", list),
        ("ip", None),
        ("mac_address", None),
        ("http_proxy", None),  # None: containers.conf http_proxy
        ("unsetenv", list),
        ("unsetenv_all", False),
        ("no_hosts", None),  # None: containers.conf no_hosts
        ("passwd", True),
        ("passwd_entry", None),
        ("label_file", list),
        ("expose", list),
        ("shm_size", None),
        ("umask", None),  # None: containers.conf umask
        ("tz", None),  # None: containers.conf tz
        ("sysctl", list),
        ("device", list),
        ("cidfile", None),
        ("pidfile", None),
        ("log_driver", None),  # None: containers.conf log_driver
        ("log_opt", list),
        ("oom_score_adj", None),
        ("tls_verify", None),
        ("authfile", None),
        ("creds", None),
        ("arch", None),
        ("os", None),
        ("variant", None),
        ("timeout", 0),  # --timeout: seconds before the supervisor kills it (exit code -1)
        ("hostuser", list),  # --hostuser: host accounts added to the container's /etc/passwd
        ("conmon_pidfile", None),  # --conmon-pidfile: the supervisor's pid
        ("rmi", False),  # run --rmi: remove the image after the container (implies --rm)
        ("create_command", list),  # the command line, as inspect's Config.CreateCommand shows it
        ("external", False),  # a build's RUN container (podman's "external", buildah's): see is_external
        ("pod", None),  # --pod NAME|new:NAME (engine/pods.py)
        ("infra", False),  # a pod's infra container (made by engine/pods.py)
    )
    __slots__ = tuple(n for n, _ in FIELDS)


def _parse_env_list(items: list[str], host_env: dict) -> list[str]:
    out = []
    for e in items:
        if "=" in e:
            out.append(e)
        elif e.endswith("*"):
            pre = e[:-1]
            out.extend(f"{k}={v}" for k, v in host_env.items() if k.startswith(pre))
        elif e in host_env:
            out.append(f"{e}={host_env[e]}")
    return out


_PROXY_ENV = ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "ftp_proxy", "FTP_PROXY",
              "no_proxy", "NO_PROXY")


def _container_env(opts: CreateOptions, conf, image_env: list[str]) -> list[str]:
    """podman's order: its defaults (PATH, container, containers.conf env: TERM=xterm), the
    host's whole environment (--env-host) or its proxy variables (--http-proxy, default on),
    the image's Env, --env-file, --env; then --unsetenv / --unsetenv-all."""
    host_env = dict(os.environ)
    # container=podman: what systemd-detect-virt and scripts look for (podman 4.3 compatible)
    env = merge_env(["PATH=" + DEFAULT_PATH, "container=podman"], list(conf.env))
    if opts.env_host:
        env = merge_env(env, [f"{k}={v}" for k, v in host_env.items()])
    elif opts.http_proxy if opts.http_proxy is not None else conf.http_proxy:
        env = merge_env(env, [f"{k}={host_env[k]}" for k in _PROXY_ENV if k in host_env])
    env = merge_env(env, image_env)
    extra: list[str] = []
    for f in opts.env_file:
        extra.extend(_parse_env_list(_read_env_file(f), host_env))
    extra.extend(_parse_env_list(opts.env, host_env))
    env = merge_env([] if opts.unsetenv_all else env, extra)
    drop = set(opts.unsetenv or [])
    return [e for e in env if e.partition("=")[0] not in drop]


def _read_env_file(path: str) -> list[str]:
    try:
        lines = Path(path).read_text().splitlines()
    except OSError as e:
        raise PypodError(f"open {path}: {e.strerror.lower() if e.strerror else e}") from None
    items = []
    for line in lines:
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        items.append(line)
    return items


def merge_env(base: list[str], extra: list[str]) -> list[str]:
    order: list[str] = []
    vals: dict[str, str] = {}
    for e in base + extra:
        k, _, v = e.partition("=")
        if k not in vals:
            order.append(k)
        vals[k] = v
    return [f"{k}={vals[k]}" for k in order]


def _labels(items: list[str]) -> dict:
    out = {}
    for l in items:
        k, _, v = l.partition("=")
        out[k] = v
    return out


def _parse_restart(text: str) -> tuple[str, int]:
    policy, _, n = (text or "no").partition(":")
    if policy not in ("no", "on-failure", "always", "unless-stopped"):
        raise InvalidArgument(f"invalid restart policy: {text!r}: use no, on-failure[:max_retries], always or unless-stopped")
    if n and policy != "on-failure":
        raise InvalidArgument("restart count can only be set with the on-failure restart policy")
    try:
        count = int(n) if n else 0
    except ValueError:
        raise InvalidArgument(f"invalid restart count {n!r}") from None
    return policy, count


def _healthcheck(opts: CreateOptions, image_cfg: dict) -> dict | None:
    """The healthcheck's stored dict (store/container_config.HealthConfig), None for none."""
    from pypod.units import parse_duration

    if opts.no_healthcheck:
        return None
    from pypod.store.container_config import HealthConfig

    hc = None
    img = image_cfg.get("Healthcheck")
    if img and img.get("Test") and img["Test"][0] != "NONE":
        # the image's durations are nanoseconds; 0 or missing: the default
        hc = HealthConfig(test=img["Test"], **{k: img[key] / 1e9 for k, key in (
            ("interval", "Interval"), ("timeout", "Timeout"), ("start_period", "StartPeriod")) if img.get(key)})
        if img.get("Retries"):
            hc.retries = img["Retries"]
    if opts.health_cmd:
        cmd = opts.health_cmd
        if cmd.strip().lower() == "none":
            return None
        if cmd.strip().startswith("["):
            try:
                test = json.loads(cmd)
            except ValueError:
                raise InvalidArgument(f"invalid --health-cmd JSON: {cmd}") from None
            if test and test[0] not in ("CMD", "CMD-SHELL", "NONE"):
                test = ["CMD"] + test
        else:
            test = ["CMD-SHELL", cmd]
        hc = HealthConfig(test=test)
    if hc is None:
        if any(x is not None for x in (opts.health_interval, opts.health_retries, opts.health_start_period,
                                        opts.health_timeout)):
            raise InvalidArgument("healthcheck options need --health-cmd or an image healthcheck")
        return None
    if opts.health_interval is not None:
        hc.interval = 0.0 if opts.health_interval == "disable" else parse_duration(opts.health_interval)
    if opts.health_timeout is not None:
        hc.timeout = parse_duration(opts.health_timeout)
        if hc.timeout < 1:
            raise InvalidArgument("healthcheck-timeout must be at least 1 second")
    if opts.health_start_period is not None:
        hc.start_period = parse_duration(opts.health_start_period)
    if opts.health_retries is not None:
        if opts.health_retries < 1:
            raise InvalidArgument("healthcheck-retries must be greater than 0")
        hc.retries = opts.health_retries
    return hc.to_dict(full=True)  # (recorded whole, as before: container.json's format)


def _entrypoint(text: str) -> list[str]:
    t = text.strip()
    if t.startswith("["):
        try:
            v = json.loads(t)
            if isinstance(v, list):
                return [str(x) for x in v]
        except ValueError:
            pass
    return [text] if text else []
