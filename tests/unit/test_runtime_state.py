"""state.json: atomic writes, and read_state's correction of stale state."""

import json
import os

from pypod.linux import proc
from pypod.runtime import state as statemod

DEAD_PID = 2 ** 22 + 12345  # above pid_max's usual range: never alive


def _write(cdir, **kw):
    st = statemod.default_state()
    st.update(kw)
    statemod.write_state(str(cdir), st)


def test_missing_state_is_created(tmp_path):
    st = statemod.read_state(str(tmp_path))
    assert st["status"] == "created" and st["exit_code"] is None
    assert set(st) >= {"status", "pid", "supervisor_pid", "started_at", "finished_at",
                       "exit_code", "oom_killed", "error", "restart_count", "health", "boot_id",
                       "exec_ids"}


def test_update_is_atomic_and_merges(tmp_path):
    statemod.update_state(str(tmp_path), {"status": "running", "pid": 5})
    statemod.update_state(str(tmp_path), exit_code=3)
    on_disk = json.load(open(tmp_path / "state.json"))
    assert on_disk["status"] == "running" and on_disk["pid"] == 5 and on_disk["exit_code"] == 3
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_running_with_dead_supervisor_is_corrected_and_persisted(tmp_path):
    _write(tmp_path, status="running", pid=DEAD_PID, supervisor_pid=DEAD_PID,
           supervisor_starttime=1, exit_code=0, boot_id=proc.boot_id())
    st = statemod.read_state(str(tmp_path))
    assert (st["status"], st["exit_code"], st["pid"], st["supervisor_pid"]) == \
        ("exited", 137, 0, 0)
    assert st["finished_at"]
    assert json.load(open(tmp_path / "state.json"))["status"] == "exited"


def test_running_with_live_supervisor_is_kept(tmp_path):
    me = os.getpid()
    _write(tmp_path, status="running", pid=me, supervisor_pid=me,
           supervisor_starttime=proc.starttime(me), boot_id=proc.boot_id())
    assert statemod.read_state(str(tmp_path))["status"] == "running"


def test_reused_supervisor_pid_is_detected(tmp_path):
    me = os.getpid()
    _write(tmp_path, status="running", pid=me, supervisor_pid=me,
           supervisor_starttime=proc.starttime(me) + 1, boot_id=proc.boot_id())
    assert statemod.read_state(str(tmp_path))["status"] == "exited"


def test_previous_boot_is_corrected(tmp_path):
    me = os.getpid()
    _write(tmp_path, status="running", pid=me, supervisor_pid=me,
           supervisor_starttime=proc.starttime(me), boot_id="another-boot")
    st = statemod.read_state(str(tmp_path))
    assert st["status"] == "exited" and st["boot_id"] == proc.boot_id()


def test_exited_is_left_alone(tmp_path):
    _write(tmp_path, status="exited", exit_code=3, supervisor_pid=DEAD_PID)
    st = statemod.read_state(str(tmp_path))
    assert (st["status"], st["exit_code"]) == ("exited", 3)


def test_garbage_state_reads_as_default(tmp_path):
    (tmp_path / "state.json").write_text("{not json")
    assert statemod.read_state(str(tmp_path))["status"] == "created"


def test_proc_alive():
    assert proc.alive(os.getpid(), proc.starttime(os.getpid()))
    assert not proc.alive(DEAD_PID)
    assert not proc.alive(0)
