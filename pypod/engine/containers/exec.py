"""Processes joined to a running container: exec and attach."""

from __future__ import annotations

from pypod.engine.context import Context
from pypod.errors import PypodError
from pypod.store.containers import ContainerRecord
from pypod.engine.containers.lookup import state_of, store
from pypod.engine.containers.options import merge_env
from pypod.engine.containers.lifecycle import _check_detach_keys, _launch_error


# -- exec ---------------------------------------------------------------------------------------
def exec_in(ctx: Context, rec: ContainerRecord, argv: list[str], *, env: list[str], user: str | None,
            workdir: str | None, interactive: bool, tty: bool, detach: bool, privileged: bool = False,
            stdio: tuple = (None, None, None), resize: int | None = None) -> int:
    """Run argv in the running container; its exit code. stdio: fds for its stdin, stdout and
    stderr (None: ours), as the API passes a client's connection; resize: a fd the terminal's
    sizes come on ("ROWS COLS" lines), where stdin is no terminal."""
    from pypod.engine.locking import locked

    lk = locked(ctx, rec).relock()  # until the process runs in the container
    try:
        return _exec_locked(ctx, lk, argv, env=env, user=user, workdir=workdir, interactive=interactive,
                            tty=tty, detach=detach, privileged=privileged, stdio=stdio, resize=resize)
    finally:
        lk.release()


def _exec_locked(ctx: Context, lk, argv: list[str], *, env: list[str], user: str | None,
                 workdir: str | None, interactive: bool, tty: bool, detach: bool, privileged: bool,
                 stdio: tuple, resize: int | None = None) -> int:
    from pypod.runtime import exec as rexec
    from pypod.runtime.spec import ProcessSpec

    rec = lk.rec
    st = state_of(ctx, rec)
    if st.get("status") != "running":
        err = PypodError("can only create exec sessions on running containers: container state improper")
        err.exit_code = 255  # podman's exec: its generic error code
        raise err
    o = rec.config
    base_env = o.env
    full_env = merge_env(base_env, env)  # podman: the container's Env, no HOSTNAME
    if tty:
        full_env = merge_env(full_env, ["TERM=xterm"])
    proc = ProcessSpec(args=argv, env=full_env, cwd=workdir or o.workdir,
                       user=user if user is not None else o.user, terminal=tty, stdin=interactive,
                       create_cwd=not workdir)
    if privileged:  # exec --privileged: every capability (the container's seccomp filter stays)
        from pypod.linux import caps as capsmod

        proc.capabilities = capsmod.all_caps()
    try:
        return rexec.exec_in(str(store(ctx).dir(rec.id)), proc, detach=detach, stdin=stdio[0],
                             stdout=stdio[1], stderr=stdio[2], on_started=lk.release, resize=resize)
    except Exception as e:
        from pypod.runtime import launch

        if isinstance(e, launch.LaunchError):
            raise _launch_error(e) from None
        raise



# -- attach ------------------------------------------------------------------------------------
def attach_container(ctx: Context, rec: ContainerRecord, *, no_stdin: bool = False, detach_keys: str | None = None,
                     sig_proxy: bool = True) -> int:
    """`attach`: relay the terminal to the container's attach socket; its exit code, or 0 after
    the detach keys (the container runs on)."""
    from pypod.runtime import attach as rattach, launch

    from pypod.engine.locking import locked

    keys = rattach.parse_detach_keys(_check_detach_keys(detach_keys))
    cdir = str(store(ctx).dir(rec.id))
    try:
        with locked(ctx, rec) as lk:  # the state check and the connection
            rec = lk.rec
            st = state_of(ctx, rec)
            if st.get("status") != "running":
                raise PypodError("you can only attach to running containers")
            sock = rattach.connect(cdir)
        from pypod.engine import events

        events.container(ctx, rec, "attach")
        o = rec.config
        code = rattach.attach(cdir, tty=bool(o.tty),
                              stdin=bool(o.interactive) and not no_stdin, detach_keys=keys,
                              sig_proxy=sig_proxy, kill=lambda s: launch.kill(cdir, s), sock=sock)
    except OSError as e:
        raise PypodError(f"attach to container {rec.id}: {e.strerror or e}") from None
    if code is None:  # detached
        return 0
    return code
