"""Kill -9 at any moment, then --resume: the run ends bit-identical to an uninterrupted one
(issue 15, item 9).

`genbench run` runs as a real process and is SIGKILLed at twenty moments chosen by a seeded
generator: during start-up, between checkpoints, right as a checkpoint is written, and while
the model is scored (or its record and leaderboard are written). After each kill the same
command is run again with --resume (plain, when the store holds nothing of the run yet), and
may be killed again, until one finishes. Its metrics, losses and weights must equal those of
one uninterrupted run exactly; the store must hold that one run, and its folder no partial
files.

Crashes at the exact moments a timed kill can only make likely (half-way through a checkpoint
write, between the store's commit and record.json) are caused deterministically in a child
process by the tests at the end."""

from __future__ import annotations

import io
import json
import multiprocessing
import os
import queue
import random
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from conftest import cli_json

from genbench import api
from genbench.atomic import PART
from genbench.errors import GenbenchError
from genbench.results.store import Store
from genbench.training import CHECKPOINT_FORMAT, load_checkpoint

STEPS, EVERY = 300, 20
ARGS = ["run", "gan", "--dataset", "ring8", "--steps", str(STEPS), "--set", "hidden=128",
        "--set", f"checkpoint_every={EVERY}", "--bootstrap", "0", "--num-samples", "1000"]
SEQUENCES, SEED = 4, 15
# Where scoring can be caught: the lines a run prints while it is scored, and how long after
# one the kill may come (the process ends ~0.2 s after "scoring done", even on a fast machine).
SCORING = {"sampling": 0.05, "scoring fd": 0.05, "scoring kid": 0.8, "scoring modes": 0.05,
           "scoring prdc": 0.05, "scoring done": 0.05}


@dataclass
class Kill:
    """SIGKILL ``delay`` seconds after the first line starting with ``after`` (a start-up
    kill: after launch, or at the first progress line if that comes sooner; a checkpoint
    kill: as soon as the checkpoint's partial file appears, if that comes sooner)."""

    phase: str
    after: str | None
    delay: float


def kill_plan() -> list[list[Kill]]:
    """Five kills for each of four fresh workdirs, in the order a run meets them."""
    rng = random.Random(SEED)
    plan = []
    for _ in range(SEQUENCES):
        between = rng.randrange(0, STEPS - EVERY, EVERY) + EVERY // 2  # 10, 30, ... 270
        at_checkpoint = rng.randrange(between + EVERY // 2, STEPS + 1, EVERY)  # ... 300
        where = rng.choice(sorted(SCORING))
        plan.append([
            Kill("start-up", None, round(rng.uniform(0.05, 4.0), 3)),
            Kill("training", f"training {between}/", round(rng.uniform(0, 0.004), 4)),
            Kill("checkpoint", f"training {at_checkpoint}/", round(rng.uniform(0, 0.015), 4)),
            Kill("start-up", None, round(rng.uniform(0.05, 4.0), 3)),
            Kill("scoring", f"evaluating-{where}", round(rng.uniform(0, SCORING[where]), 3)),
        ])
    return plan


def launch(workdir: Path, resume: bool, kill: Kill | None) -> tuple[int, bool, str]:
    """Run the command, killing it as ``kill`` says; returns (exit code, killed, stderr)."""
    env = {k: v for k, v in os.environ.items() if k != "GENBENCH_CACHE_DIR"}  # its own cache
    env.update(OMP_NUM_THREADS="1", GENBENCH_PROGRESS_SECONDS="0", GENBENCH_OFFLINE="1",
               # the genbench and plugins this process imports, wherever they are
               PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    cmd = [sys.executable, "-m", "genbench", *ARGS, "--workdir", str(workdir)]
    proc = subprocess.Popen(cmd + (["--resume"] if resume else []), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    lines: queue.Queue = queue.Queue()
    errors: list[str] = []
    readers = [threading.Thread(target=lambda: [lines.put(x) for x in proc.stdout]),
               threading.Thread(target=lambda: errors.extend(proc.stderr))]
    for reader in readers:
        reader.start()
    killed = False
    try:
        if kill is not None:
            killed = wait_and_kill(proc, lines, kill, workdir)
        proc.wait(timeout=120)
    finally:
        proc.kill()
        for reader in readers:
            reader.join()
    return proc.returncode, killed, "".join(errors)


def matches(line: str, after: str) -> bool:
    if after.startswith("evaluating-"):
        return line.startswith("evaluating ") and after.removeprefix("evaluating-") in line
    return line.startswith(after)


def wait_and_kill(proc: subprocess.Popen, lines: queue.Queue, kill: Kill,
                  workdir: Path) -> bool:
    """Kill as ``kill`` says; a checkpoint kill comes as soon as the checkpoint's partial file
    appears (its write takes about a millisecond), at most ``delay`` after its step's line.
    Returns whether the process was killed (not ended before)."""
    deadline = time.monotonic() + 120
    while kill.after is not None:  # wait for the line
        try:
            line = lines.get(timeout=0.05)
        except queue.Empty:
            if proc.poll() is not None:
                return False
            assert time.monotonic() < deadline, "the run never reached the kill point"
            continue
        if matches(line, kill.after):
            break
    at = time.monotonic() + kill.delay
    run_dirs = [str(p) for p in workdir.glob("runs/*")] if kill.phase == "checkpoint" else []
    while time.monotonic() < at and proc.poll() is None:
        if kill.after is None:  # start-up ends at the first progress line
            try:
                line = lines.get(timeout=max(0.0, min(0.05, at - time.monotonic())))
            except queue.Empty:
                line = ""
            if line.startswith(("training ", "evaluating ")):
                break
        elif kill.phase == "checkpoint":  # listdir: the partial file lives ~1 ms
            if any(name.startswith(".checkpoint.") and PART in name
                   for folder in run_dirs for name in os.listdir(folder)):
                break
        else:
            time.sleep(0.0005)
    if proc.poll() is not None:
        return False
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    return proc.returncode == -signal.SIGKILL


def has_run(workdir: Path) -> bool:
    return (workdir / "genbench.sqlite").is_file() and bool(Store(workdir).runs())


def leftovers(folder: Path) -> list[Path]:
    """Temporary files of atomic writes in ``folder`` and below."""
    return sorted(folder.rglob(f".*{PART}*"))


def finished(workdir: Path) -> dict:
    (record,) = Store(workdir).runs()
    ckpt = load_checkpoint(Path(record.run_dir) / "checkpoint.pt")
    on_disk = json.loads((Path(record.run_dir) / "record.json").read_text())
    return {"record": record, "ckpt": ckpt, "on_disk": on_disk}


def left_by_kill(workdir: Path) -> str:
    """What a kill left: the run's status, its checkpoint's step, partial files."""
    if not has_run(workdir):
        return "no run stored"
    (record,) = Store(workdir).runs()
    path = Path(record.run_dir) / "checkpoint.pt"
    step = load_checkpoint(path)["step"] if path.is_file() else None
    return (f"{record.status}, checkpoint {step}, "
            f"{len(leftovers(Path(record.run_dir)))} partial file(s) in the run's folder")


def metric_rows(record) -> dict:
    return {m.name: (m.value, m.n_real, m.n_fake, m.ci_low, m.ci_high) for m in record.metrics}


@pytest.mark.slow
@pytest.mark.long
def test_twenty_kills_at_random_moments_then_resume_end_bit_identical(tmp_path):
    started = time.monotonic()
    code, killed, stderr = launch(tmp_path / "whole", False, None)
    assert code == 0 and not killed, stderr
    whole = finished(tmp_path / "whole")
    assert whole["record"].status == "completed" and whole["record"].steps == STEPS

    hits: list[str] = []
    for n, kills in enumerate(kill_plan()):
        work, pending, attempts = tmp_path / f"killed-{n}", list(kills), 0
        while True:
            attempts += 1
            assert attempts <= 2 * len(kills) + 2, f"sequence {n}: no end in sight"
            kill = pending[0] if pending else None
            code, was_killed, stderr = launch(work, has_run(work), kill)
            if was_killed:
                hits.append(f"{n}: {kill.phase} ({kill.after or 'launch'} "
                            f"+{kill.delay} s): {left_by_kill(work)}")
                pending.pop(0)
                continue
            assert kill is None, f"sequence {n}: the run ended before {kill}: {stderr}"
            assert code == 0, stderr
            break
        got = finished(work)
        record = got["record"]
        assert record.status == "completed" and record.steps == STEPS, record.message
        assert metric_rows(record) == metric_rows(whole["record"])  # exact, not approx
        assert {m["name"]: m["value"] for m in got["on_disk"]["metrics"]} == \
            {m.name: m.value for m in record.metrics}
        assert got["on_disk"]["status"] == "completed"
        assert got["ckpt"]["history"] == whole["ckpt"]["history"]  # every loss, every step
        for key, value in whole["ckpt"]["state"]["module"].items():
            assert torch.equal(value, got["ckpt"]["state"]["module"][key]), key
        assert leftovers(Path(record.run_dir)) == []
        elsewhere = leftovers(work)  # the cache's and leaderboards': harmless, reported
        if elsewhere:
            print(f"\nsequence {n} left {[str(p.relative_to(work)) for p in elsewhere]}")
    assert len(hits) == 20, hits
    print(f"\n{len(hits)} kills in {time.monotonic() - started:.0f} s:", *hits, sep="\n")


# --- the moments a timed kill can only make likely, caused on purpose ----------------------

FAST = {"steps": 60, "overrides": ("hidden=8", "checkpoint_every=20"), "eval_every": 10,
        "metrics": ["fd", "modes"], "num_samples": 500}


@pytest.fixture(scope="module")
def whole(tmp_path_factory):
    return api.run("gan", "ring8", workdir=tmp_path_factory.mktemp("whole"), **FAST)


# Spawned, not forked: a fork of a process whose torch/OpenMP worker threads have run (as they
# have after other tests in the same session) can hang in the child before it does anything.
CHILDREN = multiprocessing.get_context("spawn")


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def run_and_die(workdir: Path, point: str) -> None:
    """In a child process: the run, which SIGKILLs its own process at ``point``."""
    if point.startswith("checkpoint write"):
        nth, real, seen = int(point.split()[-1]), torch.save, []

        def half_then_die(obj, f, *args, **kwargs):
            if not (isinstance(obj, dict) and obj.get("format") == CHECKPOINT_FORMAT):
                return real(obj, f, *args, **kwargs)
            seen.append(obj["step"])
            if len(seen) < nth:
                return real(obj, f, *args, **kwargs)
            buffer = io.BytesIO()
            real(obj, buffer)
            Path(f).write_bytes(buffer.getvalue()[:len(buffer.getvalue()) // 2])
            die()

        torch.save = half_then_die
    elif point == "after the store's commit":
        real_write = api.write_text

        def die_before_record_json(path, text):
            if Path(path).name == "record.json" and '"status": "completed"' in text:
                die()  # the store already says completed
            return real_write(path, text)

        api.write_text = die_before_record_json
    progress = (lambda step, total, losses: step == 35 and die()) if point == "training" \
        else None
    api.run("gan", "ring8", workdir=workdir, progress=progress, **FAST)


@pytest.mark.parametrize("point", ["checkpoint write 1", "checkpoint write 2", "training",
                                   "after the store's commit"])
def test_a_kill_at_a_chosen_moment_then_resume_ends_as_the_whole_run(point, whole, tmp_path):
    work = tmp_path / "work"
    child = CHILDREN.Process(target=run_and_die, args=(work, point))
    child.start()
    child.join(120)
    assert child.exitcode == -signal.SIGKILL
    (killed,) = Store(work).runs()
    run_dir = Path(killed.run_dir)
    checkpoint = run_dir / "checkpoint.pt"
    if point == "after the store's commit":
        assert killed.status == "completed"
        assert json.loads((run_dir / "record.json").read_text())["status"] == "running"
    else:
        assert killed.status == "running"  # what a kill leaves
    if point == "checkpoint write 1":  # the first checkpoint was never finished
        assert not checkpoint.exists() and len(leftovers(run_dir)) == 1
    elif point == "checkpoint write 2":  # the one before is intact
        assert load_checkpoint(checkpoint)["step"] == 20 and len(leftovers(run_dir)) == 1
    elif point == "training":  # scored at 30, checkpoint at 20: 30 will be scored again
        assert load_checkpoint(checkpoint)["step"] == 20
        assert [p["step"] for p in killed.trajectory] == [10, 20, 30]

    resumed = api.run("gan", "ring8", workdir=work, resume=True, **FAST)
    assert resumed.run_id == killed.run_id and resumed.status == "completed"
    (stored,) = Store(work).runs()
    assert stored.status == "completed" and stored.steps == 60
    assert metric_rows(stored) == metric_rows(whole)  # exact
    assert [(p["step"], p["metrics"]) for p in stored.trajectory] == \
        [(p["step"], p["metrics"]) for p in whole.trajectory]
    on_disk = json.loads((run_dir / "record.json").read_text())
    assert on_disk["status"] == "completed" and len(on_disk["metrics"]) == len(stored.metrics)
    assert load_checkpoint(checkpoint)["history"] == \
        load_checkpoint(Path(whole.run_dir) / "checkpoint.pt")["history"]
    assert leftovers(run_dir) == []


def test_resume_refuses_a_run_whose_process_is_alive(tmp_path):
    """A run left 'running' is resumed only when no live process holds its folder."""
    from genbench.atomic import hold_folder

    work = tmp_path / "work"
    child = CHILDREN.Process(target=run_and_die,
                                                        args=(work, "training"))
    child.start()
    child.join(120)
    (killed,) = Store(work).runs()
    held = hold_folder(killed.run_dir)  # as the live process would
    try:
        with pytest.raises(GenbenchError, match="running in another process"):
            api.run("gan", "ring8", workdir=work, resume=True, **FAST)
    finally:
        held.release()
    assert Store(work).get(killed.run_id).status == "running"  # left as it was


def test_resume_of_a_completed_run_writes_its_files_and_trains_nothing(cli, tmp_path):
    args = ("run", "gan", "--dataset", "ring8", "--steps", "3", "--set", "hidden=8",
            "--workdir", tmp_path / "work")
    first = cli_json(cli, *args)
    record_json = Path(first["run_dir"]) / "record.json"
    record_json.unlink()  # as a kill after the store's commit leaves it
    code, stdout, stderr = cli(*args, "--resume")
    assert code == 0, stderr
    assert f"{first['run_id']} already completed; nothing to resume" in stdout
    by_name = lambda metrics: {m["name"]: m for m in metrics}  # noqa: E731
    assert by_name(json.loads(record_json.read_text())["metrics"]) == by_name(first["metrics"])
    assert [r.run_id for r in Store(tmp_path / "work").runs()] == [first["run_id"]]
