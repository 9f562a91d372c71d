"""`healthcheck run`: the container's healthcheck run once, its result recorded in the state."""

from __future__ import annotations

import os

from pypod.engine.context import Context
from pypod.errors import PypodError
from pypod.store.containers import ContainerRecord
from pypod.engine.containers.lookup import state_of, store


def healthcheck_run(ctx: Context, rec: ContainerRecord) -> bool:
    """`healthcheck run`: run the check once now, record it as the supervisor would; True if healthy."""
    import datetime as dt

    from pypod.engine.locking import locked
    from pypod.runtime import exec as rexec
    from pypod.runtime.spec import ProcessSpec

    hc = rec.config.healthcheck
    if not hc:
        raise PypodError(f"container {rec.id} has no defined healthcheck")
    # locked for the state check until the check runs, and again to record its result
    lk = locked(ctx, rec).relock()
    try:
        st = state_of(ctx, rec)
        if st.get("status") != "running":
            raise PypodError(f"container {rec.id} is not running")
        o = rec.config
        proc = ProcessSpec(args=hc.argv(), env=o.env, cwd=o.workdir, user=o.user)
        cdir = str(store(ctx).dir(rec.id))
        start = dt.datetime.now(dt.timezone.utc).isoformat()
        r, w = os.pipe()
        try:
            code = rexec.exec_in(cdir, proc, stdout=w, stderr=w, on_started=lk.release)
        except Exception as e:  # the check could not run: that is a failure, as podman counts it
            code, output = 1, str(e)
        else:
            output = ""
        finally:
            os.close(w)
            with os.fdopen(r, "rb") as f:
                output = (output or f.read(4096).decode(errors="replace")).strip()
        lk.relock()
        return _record_health(ctx, rec, hc, code, start, output)
    finally:
        lk.release()


def _record_health(ctx: Context, rec: ContainerRecord, hc, code: int, start: str, output: str) -> bool:
    import datetime as dt

    from pypod.runtime.state import update_state

    cdir = str(store(ctx).dir(rec.id))
    st = state_of(ctx, rec)  # now: the supervisor's own checks may have recorded since
    health = dict(st.get("health") or {"status": "starting", "failing_streak": 0, "log": []})
    if code == 0:
        health.update(status="healthy", failing_streak=0)
    else:
        health["failing_streak"] = health.get("failing_streak", 0) + 1
        if health["failing_streak"] >= hc.retries:
            health["status"] = "unhealthy"
    log = list(health.get("log") or [])[-4:]
    log.append({"start": start, "end": dt.datetime.now(dt.timezone.utc).isoformat(), "exit_code": code,
                "output": output})
    health["log"] = log
    update_state(cdir, {"health": health})
    return code == 0
