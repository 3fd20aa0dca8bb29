"""trajectory.json as a record a line, appended to (issue #20): O(1) per step, a JSON document
after every write, superseding records, compaction, files cut short by a kill, and the old layout.

The ratio of the record cost at step 1,000 to that at step 10 is measured in tests/bench/test_soak.py.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from vlagent import actions as A
from vlagent.call_records import CallRecord, ResultRecord
from vlagent.trajectory import Step, Trajectory, TrajectoryWriter


def _traj() -> Trajectory:
    return Trajectory(goal="type hello", model="m", device="d", coordinate_system="relative-1000")


def _step(index: int, text: str = "") -> Step:
    return Step(index=index, started_at=1.5 + index, screenshot=f"step_{index:03d}.png", screenshot_size=(360, 800),
                device_size=(360, 800), model_output=f"tap {index} {text}\u2028line two",
                calls=[CallRecord(name="mobile_use", arguments={"action": "click", "coordinate": [index, 5]})],
                actions=[A.Tap(x=index, y=5)], timings={"capture": 0.01})


def _same(a: Trajectory, b: Trajectory) -> bool:
    """Equal but for updated_at (the header's, rewritten with the header only)."""
    return a.model_dump(exclude={"updated_at"}) == b.model_dump(exclude={"updated_at"})


def _record_like_the_loop(writer: TrajectoryWriter, step: Step) -> None:
    """The loop's three records of a step: write-ahead, the acted mark, the step's end."""
    step.acting, step.acted = True, False
    writer.trajectory.steps.append(step)
    writer.write()
    step.acted = True
    writer.write()
    step.acting = False
    step.results.append(ResultRecord(name="mobile_use", content="ok"))
    writer.write()


def test_steps_are_appended_and_the_file_is_a_json_document_after_every_write(tmp_path: Path) -> None:
    writer = TrajectoryWriter(tmp_path, _traj())
    writer.write()
    before = writer.path.read_bytes()
    for index in range(6):
        step = _step(index)
        step.acting = True
        writer.trajectory.steps.append(step)
        writer.write()
        now = writer.path.read_bytes()
        # Appended: everything up to the old closing is untouched (no rewrite of the run so far).
        assert now[:len(before) - 4] == before[:-4] and len(now) > len(before), index
        on_disk = json.loads(now)  # one JSON document after every write, for any reader
        assert on_disk["steps"][-1]["index"] == index and on_disk["steps"][-1]["acting"]
        step.acted = True
        writer.write()
        assert json.loads(writer.path.read_bytes())["steps"][-1]["acted"], "the later record is last"
        step.acting = False
        writer.write()
        before = writer.path.read_bytes()
    loaded = Trajectory.load(tmp_path)
    assert [s.index for s in loaded.steps] == list(range(6)), "a later record supersedes the earlier"
    assert _same(loaded, writer.trajectory)
    assert len(json.loads(writer.path.read_bytes())["steps"]) == 18
    writer.close()
    compact = json.loads(writer.path.read_bytes())
    assert [s["index"] for s in compact["steps"]] == list(range(6)), "close() compacts: each step once"
    assert _same(Trajectory.load(tmp_path), writer.trajectory)


def test_a_header_change_or_a_removed_step_rewrites_the_file_whole(tmp_path: Path) -> None:
    writer = TrajectoryWriter(tmp_path, _traj(), background=True)
    for index in range(3):
        _record_like_the_loop(writer, _step(index))
    writer.flush()
    assert len(json.loads(writer.path.read_text())["steps"]) == 9
    writer.trajectory.steps.pop()  # a resume drops a step whose action never happened
    writer.write()
    writer.flush()
    assert [s["index"] for s in json.loads(writer.path.read_text())["steps"]] == [0, 1]
    writer.trajectory.status, writer.trajectory.answer = "success", "done"
    writer.write()
    writer.close()
    data = json.loads(writer.path.read_text())
    assert data["status"] == "success" and [s["index"] for s in data["steps"]] == [0, 1]
    assert _same(Trajectory.load(tmp_path), writer.trajectory)


def _old_layout(tmp_path: Path, steps: int) -> Trajectory:
    """A record as the writer laid it out before issue #20: the whole document, indented."""
    traj = _traj()
    traj.steps = [_step(i) for i in range(steps)]
    (tmp_path / "trajectory.json").write_text(traj.model_dump_json(indent=1), encoding="utf-8")
    return traj


def test_the_old_layout_loads_and_a_resume_goes_on_appending(tmp_path: Path) -> None:
    old = _old_layout(tmp_path, 3)
    loaded = Trajectory.load(tmp_path)
    assert _same(loaded, old)
    writer = TrajectoryWriter(tmp_path, loaded)  # as Agent.resume does
    _record_like_the_loop(writer, _step(3))
    assert [s.index for s in Trajectory.load(tmp_path).steps] == [0, 1, 2, 3]
    before = writer.path.read_bytes()
    _record_like_the_loop(writer, _step(4))
    assert writer.path.read_bytes()[:len(before) - 4] == before[:-4], "appended, not rewritten"
    writer.close()
    assert _same(Trajectory.load(tmp_path), writer.trajectory)


def test_a_record_cut_short_anywhere_loads_without_it(tmp_path: Path) -> None:
    """A kill mid-write leaves the file cut inside its last record (a prefix of the bytes being
    written over the closing): loading drops the partial record and keeps every step before it,
    and a cut superseding record leaves the step as its earlier record had it."""
    writer = TrajectoryWriter(tmp_path, _traj())
    for index in range(3):
        _record_like_the_loop(writer, _step(index, "x" * 50))
    whole = writer.path.read_bytes()
    step = _step(3)
    step.acting = True
    writer.trajectory.steps.append(step)
    writer.write()  # the write-ahead of step 3
    with_ahead = writer.path.read_bytes()
    step.acted = True
    writer.write()  # its acted mark: a superseding record
    with_mark = writer.path.read_bytes()
    # (file before the write, file after it, steps once the record is whole, the last step acted)
    cases = [(whole, with_ahead, 4, False), (with_ahead, with_mark, 4, True)]
    for before, after, steps, acted in cases:
        assert after[:len(before) - 4] == before[:-4]
        for cut in range(len(before) - 4, len(after)):
            # the first bytes of the write landed over the old closing; the rest of it is still there
            torn = after[:cut] + before[cut:]
            (tmp_path / "trajectory.json").write_bytes(torn)
            loaded = Trajectory.load(tmp_path)
            whole_record = cut >= len(after) - 4
            assert len(loaded.steps) == (steps if whole_record or before is with_ahead else steps - 1), cut
            assert [s.index for s in loaded.steps] == list(range(len(loaded.steps)))
            assert loaded.steps[2].results[0].content == "ok" and loaded.steps[2].acted
            if len(loaded.steps) == 4:
                assert loaded.steps[3].acting and loaded.steps[3].acted == (acted and whole_record), cut


def test_damage_before_the_last_record_is_an_error_not_a_silent_loss(tmp_path: Path) -> None:
    writer = TrajectoryWriter(tmp_path, _traj())
    for index in range(3):
        _record_like_the_loop(writer, _step(index))
    lines = writer.path.read_text().split("\n")
    lines[2] = lines[2][:20]
    writer.path.write_text("\n".join(lines))
    with pytest.raises(ValueError):
        Trajectory.load(tmp_path)


def test_a_read_torn_by_the_writers_append_is_read_again(tmp_path: Path, monkeypatch) -> None:
    """A read that took the file's first page before an append and the next after it sees the
    old closing and then the new records; the file changed under it, so it is read again. The
    same bytes left on disk, unchanged, are damage and raise."""
    writer = TrajectoryWriter(tmp_path, _traj())
    _record_like_the_loop(writer, _step(0))
    before = writer.path.read_bytes()
    _record_like_the_loop(writer, _step(1))
    after = writer.path.read_bytes()
    torn = before + after[len(before) - 4:]  # the old "\n]}\n", then what the append wrote over it
    real_read = Path.read_bytes
    reads = []

    def read_during_an_append(self: Path) -> bytes:
        reads.append(self)
        if len(reads) == 1:
            os.utime(self, ns=(time.time_ns(), time.time_ns() + 1))  # the write lands meanwhile
            return torn
        return real_read(self)

    monkeypatch.setattr(Path, "read_bytes", read_during_an_append)
    assert [s.index for s in Trajectory.load(tmp_path).steps] == [0, 1] and len(reads) == 2
    monkeypatch.undo()
    writer.path.write_bytes(torn)
    with pytest.raises(ValueError):
        Trajectory.load(tmp_path)


WRITER = """
import sys
from vlagent import actions as A
from vlagent.call_records import ResultRecord
from vlagent.trajectory import Step, Trajectory, TrajectoryWriter
traj = Trajectory(goal="g", model="m", device="d", coordinate_system="relative-1000")
writer = TrajectoryWriter(sys.argv[1], traj)
writer.write()
print("ready", flush=True)
for index in range(100000):
    step = Step(index=index, started_at=0.0, screenshot_size=(1, 1), device_size=(1, 1),
                model_output="w" * 9000, actions=[A.Tap(x=1, y=1)], acting=True)
    traj.steps.append(step)
    writer.write()
    step.acted = True
    writer.write()
    step.acting = False
    step.results.append(ResultRecord(name="mobile_use", content="ok"))
    writer.write()
"""


def test_a_writer_killed_with_sigkill_leaves_a_loadable_record(tmp_path: Path) -> None:
    """Real kills of a process recording steps of ~9 KB (a record spans pages, so a kill can
    land inside a write): every time, the record loads, holding steps 0..n in order."""
    for trial in range(4):
        out = tmp_path / f"run{trial}"
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(out)], stdout=subprocess.PIPE, text=True)
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(0.2 + 0.15 * trial)
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(30) == -signal.SIGKILL
        proc.stdout.close()
        traj = Trajectory.load(out)
        assert [s.index for s in traj.steps] == list(range(len(traj.steps))) and traj.steps, trial
        assert all(s.acted and not s.acting for s in traj.steps[:-1]), "only the last can be mid-step"
