"""The create flags whose values need checking or converting before they go into the record:
sysctls, exposed ports, devices, sizes, log driver, ulimits, resource limits, id maps, init,
and the network mode (--network).
"""

from __future__ import annotations

import os
import re

from pypod.engine.context import Context
from pypod.errors import InvalidArgument, PypodError
from pypod.store.container_config import Limits, Resources
from pypod.engine.containers.lookup import get_container
from pypod.engine.containers.options import CreateOptions


_IPC_SYSCTLS = ("kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall",
                "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced")


def _sysctls(items: list[str]) -> dict:
    """--sysctl KEY=VALUE: only the namespaced ones podman allows."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise InvalidArgument(f"{item} is invalid, sysctl values must be in the form of KEY=VALUE")
        if not (key in _IPC_SYSCTLS or key.startswith(("net.", "fs.mqueue."))) or ".." in key \
                or "/" in key:
            raise InvalidArgument(f"sysctl '{key}' is not allowed")
        out[key] = value
    return out


def _exposed(items: list[str]) -> dict:
    """--expose PORT[-PORT][/PROTO] → ExposedPorts keys."""
    out = {}
    for item in items:
        port, _, proto = item.partition("/")
        proto = proto or "tcp"
        lo, dash, hi = port.partition("-")
        try:
            a = int(lo)
            b = int(hi) if dash else a
        except ValueError as e:
            bad = hi if dash and lo.isdigit() else lo
            raise InvalidArgument(f'invalid range format for --expose: {item}: strconv.ParseUint: '
                                  f'parsing "{bad}": invalid syntax') from e
        if proto not in ("tcp", "udp", "sctp") or not (0 < a <= b <= 65535):
            raise InvalidArgument(f"invalid port format for --expose: {item}")
        for p in range(a, b + 1):
            out[f"{p}/{proto}"] = {}
    return out


def _devices(items: list[str]) -> list[dict]:
    """--device HOST[:CONTAINER][:PERMISSIONS]: the host's device node bound into /dev."""
    out = []
    for item in items:
        parts = item.split(":")
        src = parts[0]
        dst = parts[1] if len(parts) > 1 and parts[1].startswith("/") else src
        perms = parts[-1] if len(parts) > 1 and not parts[-1].startswith("/") else "rwm"
        if len(parts) > 3 or not src.startswith("/") or not perms or set(perms) - set("rwm"):
            raise InvalidArgument(f"invalid device specification: {item}")
        try:
            os.stat(src)
        except OSError as e:
            raise PypodError(f"stat {src}: {(e.strerror or str(e)).lower()}") from None
        out.append({"PathOnHost": src, "PathInContainer": dst, "CgroupPermissions": perms})
    return out


_LOG_DRIVERS = ("k8s-file", "json-file", "none", "passthrough")


def _decimal_size(text: str) -> int:
    """go-units FromHumanSize: '10m' / '10MB' → 10000000 (decimal units, as podman's log max-size)."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmgtpKMGTP]?)[bB]?\s*", text or "")
    if not m:
        raise InvalidArgument(f"invalid size: '{text}'")
    return int(float(m.group(1)) * 1000 ** " kmgtp".index(m.group(2).lower() or " "))


def _zone_file(tz: str) -> str:
    """--tz ZONE (or local): the host file whose copy becomes the container's /etc/localtime."""
    return "/etc/localtime" if tz == "local" else os.path.join("/usr/share/zoneinfo", tz)


def _more_options(opts: CreateOptions, conf) -> dict:
    """The options podman users set in scripts beyond the core ones, checked as podman does,
    with containers.conf's defaults where podman has one."""
    from pypod.units import parse_size

    out: dict = {"expose": _exposed(opts.expose), "sysctls": _sysctls(opts.sysctl),
                 "devices": _devices(opts.device), "cidfile": opts.cidfile or "",
                 "pidfile": os.path.abspath(opts.pidfile) if opts.pidfile else "",
                 "timeout": int(opts.timeout or 0), "extra_passwd": _host_user_entries(opts.hostuser),
                 "conmon_pidfile": os.path.abspath(opts.conmon_pidfile) if opts.conmon_pidfile else ""}
    shm = 0
    if opts.shm_size:
        try:
            shm = parse_size(opts.shm_size)
        except InvalidArgument:
            raise InvalidArgument(f"unable to translate --shm-size: invalid size: '{opts.shm_size}'") from None
    elif conf.shm_size != "65536k":
        try:
            shm = parse_size(conf.shm_size)
        except InvalidArgument:
            raise PypodError(f"containers.conf: [containers] shm_size: invalid size: '{conf.shm_size}'") from None
    out["shm_size"] = shm
    umask = opts.umask if opts.umask is not None else conf.umask
    if not re.fullmatch(r"[0-7]{1,4}", umask or ""):
        raise InvalidArgument(f"running container create option: invalid umask string {umask}: invalid argument")
    out["umask"] = umask.rjust(4, "0")
    tz = opts.tz if opts.tz is not None else (conf.tz or "")
    if tz:
        zone = _zone_file(tz)
        if not os.path.isfile(zone) or ".." in tz.split("/"):
            raise PypodError(f"running container create option: stat {zone}: no such file or directory")
    out["tz"] = tz
    driver = opts.log_driver or conf.log_driver
    if driver not in _LOG_DRIVERS:
        if driver == "journald":
            raise PypodError("the journald log driver needs systemd's journal, which pypod does not use: "
                             "use --log-driver k8s-file (the default) or none")
        raise InvalidArgument("running container create option: invalid log driver: invalid argument")
    log_opts: dict = {}
    for item in opts.log_opt:
        key, sep, value = item.partition("=")
        if not sep or key not in ("path", "max-size", "tag"):
            raise InvalidArgument(f"running container create option: invalid log option {item!r}: "
                                  f"expected path=, max-size= or tag=: invalid argument")
        if key == "max-size":
            try:
                value = str(_decimal_size(value))
            except InvalidArgument:
                raise InvalidArgument(f"running container create option: invalid max-size {value!r}") from None
        if key == "path":
            value = os.path.abspath(value)
        log_opts[key] = value
    out["log_driver"] = "k8s-file" if driver == "json-file" else driver
    out["log_opts"] = log_opts
    if opts.oom_score_adj is not None and not -1000 <= opts.oom_score_adj <= 1000:
        raise InvalidArgument(f"oom_score_adj must be between -1000 and 1000: {opts.oom_score_adj}")
    out["oom_score_adj"] = opts.oom_score_adj
    return out


def _confinement_options(ctx: Context, opts: CreateOptions) -> dict:
    """--cap-add/--cap-drop/--privileged/--security-opt/--ulimit, validated as podman does."""
    from pypod.linux import caps as capsmod

    seccomp, nnp = None, False
    for so in opts.security_opt or []:
        key, sep, val = so.partition("=")
        if so in ("no-new-privileges", "no-new-privileges=true", "no-new-privileges:true"):
            nnp = True
        elif so in ("no-new-privileges=false", "no-new-privileges:false"):
            nnp = False
        elif key == "seccomp" and sep and val:
            seccomp = val if val == "unconfined" else os.path.abspath(val)
        elif key in ("label", "apparmor", "mask", "unmask", "proc-opts", "systempaths") and sep:
            continue  # accepted; SELinux/AppArmor are not used here
        else:
            raise InvalidArgument(f'invalid --security-opt 1: "{so}"')
    try:
        for c in [*opts.cap_add, *opts.cap_drop]:
            capsmod.normalize(c)
    except ValueError as e:
        raise PypodError(str(e))
    rlimits = [_parse_ulimit(u) for u in opts.ulimit or []]
    init_path = ""
    if opts.init:
        init_path = _find_init(ctx, opts.init_path)
    return {"group_add": list(opts.group_add), "init": bool(opts.init), "init_path": init_path,
            "read_only_tmpfs": bool(opts.read_only_tmpfs),
            "cap_add": list(opts.cap_add), "cap_drop": list(opts.cap_drop),
            "privileged": bool(opts.privileged), "seccomp": seccomp, "no_new_privileges": nnp,
            "security_opt": list(opts.security_opt), "ulimits": rlimits}


def _find_init(ctx: Context, given: str | None) -> str:
    """catatonit (podman's container-init) for --init: --init-path, containers.conf init_path,
    the usual places; "" when there is none (pypod's own reaper is used then)."""
    if given:
        if not os.path.exists(given):
            raise PypodError(f"container-init binary not found on the host: stat {given}: "
                             f"no such file or directory")
        return os.path.abspath(given)
    from pypod import config

    conf = config.load_containers_conf()
    configured = (conf.get("containers") or {}).get("init_path") or (conf.get("engine") or {}).get("init_path")
    if configured:
        if os.path.isfile(configured):
            return configured
        ctx.reporter.warn(f"container-init binary {configured} (containers.conf init_path) not found: using pypod's own init")
        return ""
    cands = ["/usr/libexec/podman/catatonit", "/usr/bin/catatonit", "/usr/local/libexec/podman/catatonit"]
    return next((c for c in cands if os.path.isfile(c)), "")


_ULIMITS = {"core": "RLIMIT_CORE", "cpu": "RLIMIT_CPU", "data": "RLIMIT_DATA", "fsize": "RLIMIT_FSIZE",
            "locks": "RLIMIT_LOCKS", "memlock": "RLIMIT_MEMLOCK", "msgqueue": "RLIMIT_MSGQUEUE",
            "nice": "RLIMIT_NICE", "nofile": "RLIMIT_NOFILE", "nproc": "RLIMIT_NPROC", "rss": "RLIMIT_RSS",
            "rtprio": "RLIMIT_RTPRIO", "rttime": "RLIMIT_RTTIME", "sigpending": "RLIMIT_SIGPENDING",
            "stack": "RLIMIT_STACK", "as": "RLIMIT_AS"}


def _parse_ulimit(u: str) -> list:
    """"nofile=1024:2048" / "nproc=512" / "core=-1" → [RLIMIT_X, soft, hard] (-1: unlimited)."""
    name, sep, val = u.partition("=")
    pre = f'ulimit option "{u}" requires name=SOFT:HARD, failed to be parsed: '
    if not sep:
        raise InvalidArgument(pre + f"invalid ulimit argument: {u}")
    if name not in _ULIMITS:
        raise InvalidArgument(pre + f"invalid ulimit type: {name}")
    soft_s, _, hard_s = val.partition(":")
    try:
        soft = int(soft_s)
        hard = int(hard_s) if hard_s else soft
    except ValueError as e:
        bad = str(e).rsplit(":", 1)[-1].strip()
        raise InvalidArgument(pre + f'strconv.ParseInt: parsing "{bad.strip(chr(39))}": invalid syntax') from None
    for text, n in ((soft_s, soft), (hard_s, hard)):
        if not -(1 << 63) <= n < 1 << 63:  # Go's int64, as podman parses it
            raise InvalidArgument(pre + f'strconv.ParseInt: parsing "{text}": value out of range')
    if soft >= 0 and hard >= 0 and soft > hard:
        raise InvalidArgument(f"ulimit soft limit must be less than or equal to hard limit: {soft} > {hard}")
    return [_ULIMITS[name], soft, hard]


def parse_limits(res: Resources) -> Limits:
    """--memory/--memory-swap/--cpus/--cpu-shares/--pids-limit/--cpuset-cpus → numbers, checked
    as podman does (125 for a bad value); only the ones given are recorded."""
    from pypod.units import parse_size

    def bad(flag: str, v, why: str):
        return InvalidArgument(f'invalid argument "{v}" for "{flag}" flag: {why}')

    out: dict = {}
    v = res.memory
    if v not in (None, ""):
        try:
            out["memory"] = parse_size(str(v))
        except PypodError:
            raise bad("-m, --memory", v, f"invalid size: '{v}'") from None
        if 0 < out["memory"] < 6 * 1024 * 1024:  # 0: no limit, as podman
            raise InvalidArgument("minimum memory limit allowed is 6MB")
    v = res.memory_swap
    if v not in (None, ""):
        if str(v) == "-1":
            out["memory_swap"] = -1
        else:
            try:
                out["memory_swap"] = parse_size(str(v))
            except PypodError:
                raise bad("--memory-swap", v, f"invalid size: '{v}'") from None
            if "memory" not in out:
                raise InvalidArgument("you must provide a memory limit when setting --memory-swap")
            if out["memory_swap"] < out["memory"]:
                raise InvalidArgument("minimum memoryswap limit should be larger than memory limit, "
                                      "see usage")
    v = res.cpus
    if v not in (None, ""):
        try:
            f = float(v)
        except ValueError:
            raise bad("--cpus", v, f'strconv.ParseFloat: parsing "{v}": invalid syntax') from None
        if f < 0:
            raise InvalidArgument(f"invalid value {v} for --cpus: must be >= 0")
        if f:
            out["cpus"] = f
    for key, flag in (("pids_limit", "--pids-limit"), ("cpu_shares", "-c, --cpu-shares")):
        v = getattr(res, key)
        if v not in (None, "", 0):
            try:
                out[key] = int(v)
            except ValueError:
                raise bad(flag, v, f'strconv.ParseInt: parsing "{v}": invalid syntax') from None
    v = res.cpuset_cpus
    if v not in (None, ""):
        if not re.fullmatch(r"\d+(-\d+)?(,\d+(-\d+)?)*", str(v)):
            raise InvalidArgument(f"invalid value {v!r} for --cpuset-cpus: use a list such as 0-3 or 0,2")
        out["cpuset_cpus"] = str(v)
    return Limits(**out)


def _host_user_entries(users: list[str]) -> list[str]:
    """--hostuser NAME|UID: the host's /etc/passwd line of each, as podman adds them."""
    import pwd

    out = []
    for u in users or []:
        try:
            pw = pwd.getpwuid(int(u)) if u.isdigit() else pwd.getpwnam(u)
        except KeyError:
            from pypod.errors import CommandCannotInvoke  # podman: 126, the start fails

            raise CommandCannotInvoke(f"unable to find user {u}: no matching entries in passwd file") from None
        out.append(f"{pw.pw_name}:x:{pw.pw_uid}:{pw.pw_gid}:{pw.pw_gecos}:{pw.pw_dir}:{pw.pw_shell}")
    return out


def _keep_id_entries() -> dict:
    """podman adds the user to the container's /etc/passwd and /etc/group with keep-id."""
    import grp
    import pwd

    uid, gid = os.getuid(), os.getgid()
    try:
        pw = pwd.getpwuid(uid)
        name, gecos, home = pw.pw_name, pw.pw_gecos.split(",")[0] or pw.pw_name, pw.pw_dir
    except KeyError:
        name, gecos, home = str(uid), str(uid), "/"
    try:
        gname = grp.getgrgid(gid).gr_name
    except KeyError:
        gname = str(gid)
    return {"passwd_entry": f"{name}:*:{uid}:{gid}:{gecos}:{home}:/bin/sh",
            "group_entry": f"{gname}:x:{gid}:{name}"}


def _id_map_text(items: list[str], flag: str, rootless: bool) -> str:
    """--uidmap CONTAINER:HOST:SIZE (repeatable) → the lines of a uid_map. Rootless, HOST is an
    id of the user's namespace (0 is the user, 1… the subordinate ids), as podman's."""
    from pypod.linux import userns as _userns

    limit = None
    if rootless:
        m = _userns.mapping()
        limit = m.size if flag == "uidmap" else m.gid_size
    lines, seen = [], []
    for item in items:
        for part in item.split(","):
            try:
                c, h, n = (int(x) for x in part.split(":"))
            except ValueError:
                raise InvalidArgument(f"invalid --{flag} {part!r}: use container_id:host_id:amount") from None
            if c < 0 or h < 0 or n <= 0:
                raise InvalidArgument(f"invalid --{flag} {part!r}: ids must be >= 0 and the amount > 0")
            if limit is not None and h + n > limit:
                raise InvalidArgument(f"--{flag} {part}: host ids {h}-{h + n - 1} are outside the "
                                      f"{limit} ids of your user namespace (0 is you, 1-{limit - 1} "
                                      f"your subordinate ids)")
            for c2, h2, n2 in seen:
                if c < c2 + n2 and c2 < c + n or h < h2 + n2 and h2 < h + n:
                    raise InvalidArgument(f"--{flag} {part}: overlaps another range")
            seen.append((c, h, n))
            lines.append(f"{c} {h} {n}")
    if len(lines) > 340:
        raise InvalidArgument(f"--{flag}: too many ranges")
    return "\n".join(lines) + "\n"


MODE_WORDS = ("", "default", "bridge", "none", "host", "private")


def _is_mode(name: str) -> bool:
    """A --network word that names a mode (parse_mode's), not a network."""
    return name in MODE_WORDS or name in ("slirp4netns", "pasta", "container", "ns")


def _network_mode(ctx: Context, opts: CreateOptions) -> tuple[str, dict]:
    """--network (repeatable; NAME[:ip=…,mac=…,alias=…,interface_name=…]), --network-alias,
    --ip, --mac-address → (spec mode, net settings). User networks: mode "bridge" and
    net["networks"] = {NAME: {"aliases", "ip", "mac", "interface"}}."""
    from pypod.engine import networks as netmod

    given = opts.network
    items = [given] if isinstance(given, str) else list(given or [])
    items = [x for x in items if x is not None]
    first = items[0] if items else ""
    head = first.partition(":")[0]
    if opts.docker_default_network and len(items) <= 1 and first in ("", "default", "bridge"):
        ep = {"aliases": list(opts.network_aliases or []), "ip": opts.ip or "", "mac": opts.mac_address or "",
              "interface": ""}
        return "bridge", {"networks": {netmod.DEFAULT_NETWORK: ep}}
    if len(items) <= 1 and (_is_mode(head) or first == netmod.DEFAULT_NETWORK):
        if opts.network_aliases:
            raise InvalidArgument("--network-alias can only be set for user-defined networks")
        if opts.ip or opts.mac_address:
            if head not in ("", "default", "bridge", "private") and first != netmod.DEFAULT_NETWORK:
                raise InvalidArgument(f"--ip and --mac-address cannot be used with --network {first}")
        return netmod.parse_mode(first, ctx.rootless, lambda n: get_container(ctx, n).id)
    networks: dict = {}
    for item in items:
        name, _, rest = item.partition(":")
        if _is_mode(name) or name == netmod.DEFAULT_NETWORK:
            raise InvalidArgument(f"--network {name} cannot be combined with other networks")
        rec = netmod.get_network(ctx, name)
        ep: dict = {"aliases": [], "ip": "", "mac": "", "interface": ""}
        for kv in [x for x in rest.split(",") if x]:
            k, _, v = kv.partition("=")
            if k == "alias":
                ep["aliases"].append(v)
            elif k == "ip":
                ep["ip"] = v
            elif k == "mac":
                ep["mac"] = v
            elif k == "interface_name":
                ep["interface"] = v
            else:
                raise InvalidArgument(f"unknown option {k!r} for network {name}")
        if rec["name"] in networks:
            raise InvalidArgument(f"network {rec['name']} given twice")
        networks[rec["name"]] = ep
    first_ep = next(iter(networks.values()))
    first_ep["aliases"] += list(opts.network_aliases or [])
    if opts.ip:
        if len(networks) > 1:
            raise InvalidArgument("--ip can only be used with a single network: use "
                                  "--network NAME:ip=ADDR for each")
        first_ep["ip"] = opts.ip
    if opts.mac_address:
        if len(networks) > 1:
            raise InvalidArgument("--mac-address can only be used with a single network: use "
                                  "--network NAME:mac=ADDR for each")
        first_ep["mac"] = opts.mac_address
    import ipaddress

    for n, ep in networks.items():
        if ep["ip"]:
            try:
                ipaddress.IPv4Address(ep["ip"])
            except ValueError:
                raise InvalidArgument(f"{ep['ip']} is not an IPv4 address") from None
        if ep["mac"] and not re.fullmatch(r"([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}", ep["mac"]):
            raise InvalidArgument(f"invalid MAC address {ep['mac']!r}")
    return "bridge", {"networks": networks}
