"""`version` and `info` reports, with podman's Go field names (templates) and JSON keys."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import time

from pypod import API_VERSION, __version__
from pypod.engine.context import Context

BUILT = 0  # pypod is not a build artefact: report the epoch, as Debian's podman does


def version_report() -> dict:
    client = {"APIVersion": API_VERSION, "Version": __version__, "GoVersion": f"python{platform.python_version()}",
              "GitCommit": "", "BuiltTime": time.strftime("%a %b %e %H:%M:%S %Y", time.gmtime(BUILT)),
              "Built": BUILT, "OsArch": f"linux/{_arch()}", "Os": "linux"}
    return {"Client": client, "Server": dict(client)}


def _arch() -> str:
    from pypod.image.platform import host_arch

    return host_arch()


def _tool_version(path: str | None) -> str:
    if not path:
        return ""
    try:
        return subprocess.run([path, "--version"], capture_output=True, text=True, timeout=5).stdout.strip()
    except OSError:
        return ""


def _cgroups_version() -> str:
    return "v2" if os.path.exists("/sys/fs/cgroup/cgroup.controllers") else "v1"


def _distribution() -> dict:
    d = {}
    try:
        for line in open("/etc/os-release"):
            k, _, v = line.strip().partition("=")
            d[k] = v.strip('"')
    except OSError:
        pass
    return {"Distribution": d.get("ID", ""), "Version": d.get("VERSION_ID", ""), "Codename": d.get("VERSION_CODENAME", "")}


def _count_containers(ctx: Context) -> dict:
    counts = {"Number": 0, "Paused": 0, "Running": 0, "Stopped": 0}
    try:
        from pypod.engine import containers

        for c in containers.list_containers(ctx, all_=True):
            counts["Number"] += 1
            st = c.state.get("status")
            if st == "running":
                counts["Running"] += 1
            elif st == "paused":
                counts["Paused"] += 1
            else:
                counts["Stopped"] += 1
    except ImportError:
        pass
    return counts


def info_report(ctx: Context) -> dict:
    """Go-field-named info (what `{{.Host.X}}` templates read)."""
    mem_total = mem_free = swap_total = swap_free = 0
    try:
        for line in open("/proc/meminfo"):
            k, v = line.split(":", 1)
            n = int(v.split()[0]) * 1024
            if k == "MemTotal":
                mem_total = n
            elif k == "MemAvailable":
                mem_free = n
            elif k == "SwapTotal":
                swap_total = n
            elif k == "SwapFree":
                swap_free = n
    except OSError:
        pass
    uptime = float(open("/proc/uptime").read().split()[0]) if os.path.exists("/proc/uptime") else 0.0
    h, rem = divmod(int(uptime), 3600)
    m, s = divmod(rem, 60)
    slirp = shutil.which("slirp4netns")
    uidmap = gidmap = None
    if ctx.rootless:
        from pypod.linux.userns import mapping

        mp = mapping()
        uidmap = [{"container_id": r.container_id, "host_id": r.host_id, "size": r.size} for r in mp.uids]
        gidmap = [{"container_id": r.container_id, "host_id": r.host_id, "size": r.size} for r in mp.gids]
    st = os.statvfs(ctx.graph_root if ctx.graph_root.exists() else "/")
    images = len(ctx.images.list())
    from pypod import paths

    sock = os.path.join(paths.user_runtime_dir(), "podman", "podman.sock") if ctx.rootless else "/run/podman/podman.sock"
    host = {
        "Arch": _arch(), "BuildahVersion": "", "CgroupManager": "cgroupfs", "CgroupsVersion": _cgroups_version(),
        "CgroupControllers": [], "Conmon": {"Package": "pypod", "Path": "pypod-supervisor", "Version": f"pypod supervisor {__version__}"},
        "CPUs": os.cpu_count() or 1, "Distribution": _distribution(), "EventLogger": "file",
        "Hostname": platform.node(), "IDMappings": {"GIDMap": gidmap, "UIDMap": uidmap},
        "Kernel": platform.release(), "LogDriver": "k8s-file", "MemFree": mem_free, "MemTotal": mem_total,
        "NetworkBackend": "pypod", "OCIRuntime": {"Name": "pypod", "Package": "pypod", "Path": "pypod", "Version": __version__},
        "OS": "linux", "RemoteSocket": {"Path": str(sock), "Exists": os.path.exists(sock)},
        "ServiceIsRemote": False,
        "Security": {"AppArmorEnabled": False, "Capabilities": "CAP_CHOWN,CAP_DAC_OVERRIDE,CAP_FOWNER,CAP_FSETID,CAP_KILL,CAP_NET_BIND_SERVICE,CAP_SETFCAP,CAP_SETGID,CAP_SETPCAP,CAP_SETUID,CAP_SYS_CHROOT",
                     "Rootless": ctx.rootless, "SECCOMPEnabled": False, "SECCOMPProfilePath": "", "SELinuxEnabled": False},
        "Slirp4NetNS": {"Executable": slirp or "", "Package": "", "Version": _tool_version(slirp).split("\n")[0] if slirp else ""},
        "SwapFree": swap_free, "SwapTotal": swap_total,
        "Uptime": f"{h}h {m}m {s}.00s (Approximately {uptime / 86400:.2f} days)", "Linkmode": "dynamic",
    }
    store = {
        "ConfigFile": "", "ContainerStore": _count_containers(ctx), "GraphDriverName": ctx.driver,
        "GraphOptions": {}, "GraphRoot": str(ctx.graph_root), "GraphRootAllocated": st.f_blocks * st.f_frsize,
        "GraphRootUsed": (st.f_blocks - st.f_bfree) * st.f_frsize,
        "GraphStatus": {"Backing Filesystem": "", "Native Overlay Diff": "true", "Supports d_type": "true", "Using metacopy": "false"},
        "ImageCopyTmpDir": "/var/tmp", "ImageStore": {"Number": images}, "RunRoot": str(ctx.run_root),
        "VolumePath": str(ctx.volumes_dir),
    }
    return {"Host": host, "Store": store, "Registries": {}, "Plugins": {"Volume": ["local"], "Network": ["bridge"],
            "Log": ["k8s-file", "none", "passthrough"], "Authorization": None},
            "Version": version_report()["Client"]}


_JSON_KEYS = {"CPUs": "cpus", "OS": "os", "IDMappings": "idMappings", "GIDMap": "gidmap", "UIDMap": "uidmap",
              "OCIRuntime": "ociRuntime", "CgroupsVersion": "cgroupVersion", "SECCOMPEnabled": "seccompEnabled",
              "SECCOMPProfilePath": "seccompProfilePath", "SELinuxEnabled": "selinuxEnabled",
              "AppArmorEnabled": "apparmorEnabled", "Slirp4NetNS": "slirp4netns", "MemFree": "memFree",
              "Backing Filesystem": "Backing Filesystem", "Native Overlay Diff": "Native Overlay Diff",
              "Supports d_type": "Supports d_type", "Using metacopy": "Using metacopy"}
_KEEP_CASE = {"Version"}  # the version block keeps Go's names in podman's JSON


def info_json(report: dict) -> dict:
    """The same report with podman's JSON keys (lowerCamelCase, a few special spellings)."""

    def conv(obj, keep=False):
        if isinstance(obj, dict):
            out = {}
            for k, v in obj.items():
                if keep:
                    out[k] = v
                    continue
                nk = _JSON_KEYS.get(k, k[:1].lower() + k[1:])
                out[nk] = conv(v, keep=(k in _KEEP_CASE and isinstance(v, dict) and "APIVersion" in v) or k == "GraphStatus")
            return out
        if isinstance(obj, list):
            return [conv(x) for x in obj]
        return obj

    return conv(report)
