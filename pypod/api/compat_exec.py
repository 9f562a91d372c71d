"""Exec routes: create a session, start it on a hijacked connection, inspect its exit code.

Sessions live in the service (Docker's clients create, start and inspect within one session of
the service); the process itself is run by the same engine function as `pypod exec`.
"""

from __future__ import annotations

import os
import secrets
import threading

from pypod.api.http import HTTPError
from pypod.api.router import route

_SESSIONS: dict[str, dict] = {}
_LOCK = threading.Lock()
MAX_SESSIONS = 1000  # the oldest finished ones go first: the table stays bounded


def _session(eid: str) -> dict:
    with _LOCK:
        s = _SESSIONS.get(eid)
    if s is None:
        raise HTTPError(404, f"No such exec instance: {eid}")
    return s


EXEC_CREATE = {"Cmd": (str, [str]), "Env": [str], "WorkingDir": str, "User": str, "Tty": bool,
               "Privileged": bool, "AttachStdin": bool, "AttachStdout": bool, "AttachStderr": bool}


@route("POST", "/containers/{name}/exec")
def create(req, ctx) -> None:
    from pypod.api.compat_containers import lookup
    from pypod.engine import containers as ce

    rec = lookup(ctx, req.params["name"])
    body = req.h.json_body(EXEC_CREATE)
    cmd = body.get("Cmd")
    if isinstance(cmd, str):
        cmd = [cmd]
    if not cmd:
        raise HTTPError(400, "No exec command specified")
    if ce.state_of(ctx, rec).get("status") != "running":
        raise HTTPError(409, f"Container {rec.id} is not running")
    eid = secrets.token_hex(32)
    with _LOCK:
        if len(_SESSIONS) >= MAX_SESSIONS:
            for old in [k for k, v in _SESSIONS.items() if not v["Running"]][: len(_SESSIONS) // 2]:
                del _SESSIONS[old]
        _SESSIONS[eid] = {"ID": eid, "ContainerID": rec.id, "Running": False, "ExitCode": None, "Pid": 0,
                          "OpenStdin": bool(body.get("AttachStdin")), "OpenStdout": bool(body.get("AttachStdout", True)),
                          "OpenStderr": bool(body.get("AttachStderr", True)), "CanRemove": False,
                          "ProcessConfig": {"entrypoint": cmd[0], "arguments": list(cmd[1:]),
                                            "tty": bool(body.get("Tty")), "privileged": bool(body.get("Privileged")),
                                            "user": body.get("User") or ""},
                          "_cmd": list(cmd), "_env": list(body.get("Env") or []),
                          "_workdir": body.get("WorkingDir") or None, "_user": body.get("User") or None}
    req.h.send_json(201, {"Id": eid})


def _relay(src_fd: int, sock, kind: int | None) -> None:
    """Copy a pipe to the client (framed as Docker's stream `kind`, or raw) until EOF."""
    from pypod.api.compat_containers import frame

    try:
        while True:
            b = os.read(src_fd, 65536)
            if not b:
                break
            sock.sendall(b if kind is None else frame("stderr" if kind == 2 else "stdout", b))
    except OSError:
        pass
    finally:
        os.close(src_fd)


@route("POST", "/exec/{id}/start")
def start(req, ctx) -> None:
    from pypod.engine import containers as ce

    s = _session(req.params["id"])
    body = req.h.json_body({"Detach": bool, "Tty": bool})
    with _LOCK:
        if s["Running"] or s["ExitCode"] is not None:
            raise HTTPError(409, f"exec session {s['ID']} has already been started")
        s["Running"] = True
    rec = ce.find_container(ctx, s["ContainerID"])
    if rec is None:
        raise HTTPError(404, f"No such container: {s['ContainerID']}")
    tty, detach = s["ProcessConfig"]["tty"], bool(body.get("Detach"))
    kw = dict(env=s["_env"], user=s["_user"], workdir=s["_workdir"], interactive=s["OpenStdin"],
              tty=tty, detach=detach, privileged=s["ProcessConfig"]["privileged"])
    if detach:
        try:
            ce.exec_in(ctx, rec, s["_cmd"], **kw)
        finally:
            s["Running"] = False
        req.h.send_bytes(200, b"")
        return
    sock = req.h.hijack("application/vnd.docker.raw-stream" if tty else
                        "application/vnd.docker.multiplexed-stream")
    resize_r = None
    if tty:
        # the client's terminal size comes by POST /exec/{id}/resize (Docker's CLI sends it just
        # after this start): a pipe to the exec helper's pty, a size sent early already in it
        resize_r, resize_w = os.pipe2(os.O_CLOEXEC)
        os.set_blocking(resize_w, False)
        with _LOCK:
            s["_resize_w"] = resize_w
            if s.get("_size"):
                _send_size(s)
    fd = sock.fileno()
    code = 126
    try:
        if tty:  # the exec helper's pty relays to and from the connection itself
            code = ce.exec_in(ctx, rec, s["_cmd"], stdio=(fd, fd, fd), resize=resize_r, **kw)
        else:
            out_r, out_w = os.pipe()
            err_r, err_w = os.pipe()
            relays = [threading.Thread(target=_relay, args=(out_r, sock, 1)),
                      threading.Thread(target=_relay, args=(err_r, sock, 2))]
            for t in relays:
                t.start()
            try:
                code = ce.exec_in(ctx, rec, s["_cmd"], stdio=(fd, out_w, err_w), **kw)
            finally:
                os.close(out_w)
                os.close(err_w)
                for t in relays:
                    t.join()
    except Exception as e:  # noqa: BLE001 - the session records it; the stream has started
        from pypod.api.router import error_status
        from pypod.api.compat_containers import frame

        code = getattr(e, "exit_code", 126)
        try:
            sock.sendall(frame("stderr", (error_status(e)[1] + "\n").encode()))
        except OSError:
            pass
    finally:
        with _LOCK:
            s["ExitCode"], s["Running"] = code, False
            if resize_r is not None:
                os.close(resize_r)
                os.close(s.pop("_resize_w"))
        try:
            import socket

            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def _send_size(s: dict) -> None:
    """The session's size to its helper (under _LOCK; a full pipe drops it: a newer one follows)."""
    try:
        os.write(s["_resize_w"], ("%d %d\n" % s["_size"]).encode())
    except OSError:
        pass


@route("POST", "/exec/{id}/resize")
def resize(req, ctx) -> None:
    s = _session(req.params["id"])
    h, w = req.qint("h", 0), req.qint("w", 0)
    if h > 0 and w > 0:
        with _LOCK:
            s["_size"] = (h, w)  # not started yet: it is sent at start
            if s.get("_resize_w") is not None:
                _send_size(s)
    req.h.send_bytes(200, b"")


@route("GET", "/exec/{id}/json")
def inspect(req, ctx) -> None:
    s = _session(req.params["id"])
    req.h.send_json(200, {k: v for k, v in s.items() if not k.startswith("_")})
