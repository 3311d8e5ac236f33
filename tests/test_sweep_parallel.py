"""Sweeps in workers: ``--executor local --jobs 2`` and ``--executor ray`` (a local Ray instance
the test starts) give the records of the sequential sweep; a worker killed with -9 mid-run is
retried from its checkpoint; a driver killed mid-sweep is resumed by the same command; a run
that fails on its own is recorded once, not retried."""

from __future__ import annotations

import glob
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest
import torch
from test_cli import assert_one_line_error

from genbench import sweep as sweeps
from genbench.parallel import SCRATCH, usable_cores
from genbench.results.store import STORE_NAME, Store

# Four entries, a few hundred steps of small models on a 2-D toy: long enough to be killed
# in the middle, short enough for the default suite. Checkpoints every 20 steps.
MODELS, SEEDS, STEPS = ["gan", "vae"], [0, 1], 200
SETTINGS = ["checkpoint_every=20"]


def plan(workdir: Path, models=MODELS, seeds=SEEDS):
    blocks = sweeps.make_blocks(models=models, datasets=["ring8"], seeds=seeds, steps=STEPS,
                                overrides=SETTINGS)
    return sweeps.plan(sweeps.expand(blocks), workdir)


def records(workdir: Path) -> dict[tuple, object]:
    """The store's records by entry; fails if an entry has more than one."""
    runs = Store(workdir).runs()
    by_entry = {(r.model, r.dataset, r.seed, r.config_hash): r for r in runs}
    assert len(by_entry) == len(runs), "an entry was recorded twice"
    return by_entry


def assert_same_records(got: dict, want: dict, workdir: Path) -> None:
    """Same entries, statuses, steps and metrics. Training is bit-identical between processes
    and thread counts; KID's float64 mean over subsets may differ in the last digit between 1
    and 2 threads, hence the 1e-12 relative tolerance."""
    assert got.keys() == want.keys()
    for key, record in got.items():
        other = want[key]
        assert (record.status, record.steps) == (other.status, other.steps), key
        mine, theirs = record.metric_map(), other.metric_map()
        assert mine.keys() == theirs.keys(), key
        for name, value in mine.items():
            assert math.isclose(value, theirs[name], rel_tol=1e-12, abs_tol=1e-15), \
                (key, name, value, theirs[name])
        # The run's folder came back into this workdir with everything in it.
        folder = Path(record.run_dir)
        assert folder.parent == workdir.resolve() / "runs"
        for name in ("record.json", "checkpoint.pt", "samples.png"):
            assert (folder / name).is_file(), (key, name)
        assert json.loads((folder / "record.json").read_text())["status"] == record.status


@pytest.fixture(scope="module")
def sequential(tmp_path_factory):
    """The reference: the same sweep, one entry after another in this process."""
    workdir = tmp_path_factory.mktemp("sequential")
    result = sweeps.execute(plan(workdir), workdir=workdir)
    assert result.counts() == {"completed": 4}
    return records(workdir)


def run_killing_one_worker(workdir: Path, executor: str, jobs: int):
    """Run the sweep in a thread; once a worker is past step 60 with a checkpoint saved on the
    driver's side, kill -9 its process. Returns the result and what was killed."""
    result, errors = {}, []

    def go():
        try:
            result["sweep"] = sweeps.execute(plan(workdir), workdir=workdir, executor=executor,
                                             jobs=jobs)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test
            errors.append(exc)

    thread = threading.Thread(target=go)
    thread.start()
    killed = None
    while thread.is_alive() and killed is None:
        for path in glob.glob(str(workdir / SCRATCH / "*" / "progress.json")):
            try:
                info = json.loads(Path(path).read_text())
            except (OSError, ValueError):
                continue
            saved = glob.glob(str(Path(path).parent / "runs" / "*" / "checkpoint.pt"))
            # Progress is written at most twice a second, so it may lag: not a worker that
            # has finished already.
            over = (Path(path).parent / "result.json").exists()
            if info.get("phase") == "training" and info["step"] >= 60 and saved and not over:
                try:
                    os.kill(info["pid"], signal.SIGKILL)
                except ProcessLookupError:  # it ended meanwhile: wait for another
                    continue
                killed = Path(path).parent.name
                break
        time.sleep(0.02)
    thread.join(300)
    assert not errors, errors
    assert killed, "no worker was seen training: nothing was killed"
    return result["sweep"], killed


def check_after_kill(workdir: Path, result, killed: str, sequential) -> None:
    assert result.counts() == {"completed": 4}
    retried = [o for o in result.outcomes if o.attempts > 1]
    assert len(retried) == 1 and killed.startswith(retried[0].entry.model)
    # Resumed from its checkpoint (same run id, same seeded stream): the same record as an
    # uninterrupted run, and no duplicate or lost record.
    assert_same_records(records(workdir), sequential, workdir)
    assert not (workdir / SCRATCH).exists()


def test_jobs_2_gives_the_records_of_the_sequential_sweep(workdir, sequential):
    result = sweeps.execute(plan(workdir), workdir=workdir, executor="local", jobs=2)
    assert result.counts() == {"completed": 4}
    assert [o.entry.label for o in result.outcomes] == \
        [p.entry.label for p in plan(workdir)]  # in the plan's order, whatever ended first
    assert_same_records(records(workdir), sequential, workdir)
    assert not (workdir / SCRATCH).exists()  # every scratch folder taken in and removed
    # Rerun: everything is done already.
    again = sweeps.execute(plan(workdir), workdir=workdir, executor="local", jobs=2)
    assert again.counts() == {"skipped": 4}


def test_a_worker_killed_mid_run_is_retried_from_its_checkpoint(workdir, sequential):
    result, killed = run_killing_one_worker(workdir, "local", 2)
    check_after_kill(workdir, result, killed, sequential)


def test_ray_gives_the_records_of_the_sequential_sweep(workdir, sequential, monkeypatch):
    pytest.importorskip("ray", reason="Ray is in the test extra: pip install -e '.[test]'")
    # A cluster that died without `ray stop` leaves its address in /tmp/ray/ray_current_cluster,
    # which a plain ray.init() would try to join: --executor ray starts its own instance.
    monkeypatch.setattr("ray._private.utils.read_ray_address", lambda *a: "127.0.0.1:9")
    result = sweeps.execute(plan(workdir), workdir=workdir, executor="ray")
    assert result.counts() == {"completed": 4}
    assert_same_records(records(workdir), sequential, workdir)
    assert not (workdir / SCRATCH).exists()


def test_ray_retries_a_killed_worker_from_the_checkpoint_it_shipped(workdir, sequential):
    pytest.importorskip("ray", reason="Ray is in the test extra: pip install -e '.[test]'")
    result, killed = run_killing_one_worker(workdir, "ray", 0)
    check_after_kill(workdir, result, killed, sequential)


def test_a_killed_driver_is_resumed_by_the_same_command(workdir, sequential):
    """kill -9 of `genbench sweep` itself: its workers die with it (no orphan goes on writing)
    and the same command resumes the interrupted runs from their checkpoints."""
    command = [sys.executable, "-m", "genbench", "sweep", "-m", ",".join(MODELS), "-d",
               "ring8", "--seeds", "0,1", "--steps", str(STEPS), "--set", SETTINGS[0],
               "--jobs", "2", "--workdir", str(workdir), "--format", "json"]
    driver = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and driver.poll() is None:
        if glob.glob(str(workdir / SCRATCH / "*" / "runs" / "*" / "checkpoint.pt")):
            break
        time.sleep(0.02)
    driver.kill()
    driver.communicate()
    time.sleep(0.5)  # the workers' death signal
    # A run with a checkpoint is resumed under its own id; one whose worker died before its
    # first checkpoint has nothing to keep and is started afresh (under a new id).
    resumable = {p.parent.name for p in (workdir / SCRATCH).glob("*/runs/*/checkpoint.pt")}
    assert resumable, "the driver finished before it could be killed"
    done = cli_json_subprocess(command)
    assert {e["status"] for e in done["entries"]} <= {"completed", "skipped"}
    assert resumable <= {Path(r.run_dir).name for r in records(workdir).values()}
    assert_same_records(records(workdir), sequential, workdir)


def cli_json_subprocess(command: list[str]) -> dict:
    proc = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout)


def test_a_run_that_fails_on_its_own_is_recorded_once_not_retried(cli, workdir):
    code, stdout, stderr = cli("sweep", "-m", "gan", "-d", "ring8", "--steps", "20", "--set",
                               "lr_g=1e12", "--set", "lr_d=1e12", "--jobs", "2", "--workdir",
                               workdir, "--format", "json")
    assert code == 1, stderr
    out = json.loads(stdout)
    (entry,) = out["entries"]
    assert (entry["status"], entry["attempts"]) == ("diverged", 1)
    (record,) = Store(workdir).runs()
    assert record.status == "diverged" and "nan" in record.message


@pytest.mark.parametrize("executor", ["ray:", "dask", "local:host"])
def test_an_unknown_executor_is_a_one_line_error(cli, workdir, executor):
    assert_one_line_error(cli("sweep", "-m", "gan", "-d", "ring8", "--steps", "3",
                              "--executor", executor, "--workdir", workdir),
                          "--executor", "local", "ray:ADDRESS")
    assert not (workdir / "runs").exists()


def test_ray_client_addresses_are_refused_with_what_works(cli, workdir):
    """Through Ray Client the driver is outside the cluster, and the checkpoints a killed run
    continues from would be kept on the head node, out of the driver's reach."""
    assert_one_line_error(cli("sweep", "-m", "gan", "-d", "ring8", "--steps", "3",
                              "--executor", "ray:ray://head:10001", "--workdir", workdir),
                          "Ray Client addresses are not supported", "ray:auto")


def test_ray_missing_says_how_to_install_it(cli, workdir, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray raises ImportError
    assert_one_line_error(cli("sweep", "-m", "gan", "-d", "ring8", "--steps", "3",
                              "--executor", "ray", "--workdir", workdir),
                          "pip install", "genbench[ray]")


@pytest.mark.parametrize("when", ["after a checkpoint", "while the workers start"])
def test_ctrl_c_stops_the_workers_with_checkpoints_and_the_same_command_resumes(workdir,
                                                                               sequential,
                                                                               when):
    command = [sys.executable, "-m", "genbench", "sweep", "-m", ",".join(MODELS), "-d",
               "ring8", "--seeds", "0,1", "--steps", str(STEPS), "--set", SETTINGS[0],
               "--jobs", "2", "--workdir", str(workdir), "--format", "json"]
    driver = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True)
    deadline = time.monotonic() + 120
    seen = (str(workdir / SCRATCH / "*" / "runs" / "*" / "checkpoint.pt")
            if when == "after a checkpoint" else str(workdir / SCRATCH / "*" / "progress.json"))
    while time.monotonic() < deadline and driver.poll() is None:
        if glob.glob(seen):
            break
        time.sleep(0.02)
    driver.send_signal(signal.SIGINT)
    stdout, stderr = driver.communicate(timeout=120)
    assert driver.returncode == 130, stderr[-2000:]
    stopped = json.loads(stdout)
    assert stopped["interrupted"]
    statuses = [e["status"] for e in stopped["entries"]]
    assert "interrupted" in statuses and set(statuses) <= {"completed", "interrupted",
                                                          "not run"}
    # Each interrupted run left an 'interrupted' record in its scratch, and each one the signal
    # caught in its training loop left its checkpoint at the step it stopped (a worker still
    # loading its data or building its model has no step to keep: its rerun starts afresh).
    # A run that ended as the signal came was taken in by the driver, as it ends any run.
    trained = 0
    for scratch in (workdir / SCRATCH).iterdir():
        runs = Store(scratch).runs() if (scratch / STORE_NAME).is_file() else []
        if not runs:
            continue  # a worker stopped before it had created its run
        (record,) = runs
        assert record.status == "interrupted", (record.status, statuses)
        if record.steps:
            trained += 1
            checkpoint = torch.load(Path(record.run_dir) / "checkpoint.pt", weights_only=True)
            assert checkpoint["step"] == record.steps
    if when == "after a checkpoint":
        assert trained >= 1  # the one whose checkpoint was seen before the signal
    done = cli_json_subprocess(command)
    assert {e["status"] for e in done["entries"]} <= {"completed", "skipped"}
    assert_same_records(records(workdir), sequential, workdir)
    assert not (workdir / SCRATCH).exists()


@pytest.mark.parametrize("device, visible, jobs, expect", [
    ("cuda", None, 0, (["0", "1", "2"], 3)),        # one worker per GPU
    ("auto", "4,6", 0, (["4", "6"], 2)),            # the GPUs this process may see
    ("cuda", None, 5, (["0", "1", "2", "0", "1"], 5)),  # more jobs than GPUs: in turn
    ("cuda:1", None, 2, (["1", "1"], 2)),           # every worker on the GPU named
])
def test_local_workers_each_get_one_gpu(tmp_path, monkeypatch, device, visible, jobs, expect):
    """How --jobs places workers on GPUs (CUDA_VISIBLE_DEVICES), checked without a GPU."""
    import torch

    from genbench import api
    from genbench.parallel import LocalPool

    monkeypatch.setattr(torch.cuda, "device_count", lambda: 3)
    index = int(device.split(":")[1]) if ":" in device else None
    monkeypatch.setattr(api, "resolve_device", lambda d: torch.device("cuda", index))
    if visible is None:
        monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    else:
        monkeypatch.setenv("CUDA_VISIBLE_DEVICES", visible)
    pool = LocalPool(tmp_path, jobs, device)
    gpus, count = expect
    assert pool.jobs == count and pool.device == "cuda"
    assert [pool.environment(slot)["CUDA_VISIBLE_DEVICES"] for slot in range(count)] == gpus
    assert pool.environment(0)["OMP_NUM_THREADS"] == str(max(1, usable_cores() // count))


def test_local_workers_only_get_gpus_that_exist(tmp_path, monkeypatch):
    """CUDA_VISIBLE_DEVICES=0,1,7 on a machine with two GPUs: CUDA shows two, and a worker
    given "7" saw none and failed its run."""
    from genbench import api
    from genbench.parallel import LocalPool

    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(api, "resolve_device", lambda d: torch.device("cuda"))
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1,7")
    pool = LocalPool(tmp_path, 0, "cuda")
    assert pool.gpus == ["0", "1"] and pool.jobs == 2


def test_a_gpu_index_that_is_not_here_is_a_one_line_error(monkeypatch):
    from genbench import api
    from genbench.errors import GenbenchError

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert api.resolve_device("cuda:1") == torch.device("cuda", 1)
    with pytest.raises(GenbenchError, match=r"cuda:5: 2 GPUs are visible here \(cuda:0 to "
                                            r"cuda:1\)"):
        api.resolve_device("cuda:5")  # was an IndexError in the sweep's driver
    for bad in ("cuda:x", "cudaa"):
        with pytest.raises(GenbenchError, match="unknown device"):
            api.resolve_device(bad)


def test_ray_tasks_fit_the_smallest_node_that_can_take_them():
    """A task runs on one node: with 4 x 16 cores, --jobs 2 asked for 32 CPUs a task, which no
    node has, and Ray held every task back for ever."""
    from genbench.parallel import _smallest_node

    nodes = [{"Alive": True, "Resources": {"CPU": 16.0}}] * 4
    assert _smallest_node(nodes, use_gpu=False) == (16, 16)
    mixed = [{"Alive": True, "Resources": {"CPU": 16.0, "GPU": 8.0}},
             {"Alive": True, "Resources": {"CPU": 64.0}},
             {"Alive": False, "Resources": {"CPU": 2.0, "GPU": 8.0}}]
    assert _smallest_node(mixed, use_gpu=True) == (16, 2)  # 2 CPUs per GPU there
    assert _smallest_node(mixed, use_gpu=False) == (16, 16)
    assert _smallest_node([], use_gpu=True) == (1, 1)


def test_local_workers_share_the_cores_without_a_gpu(tmp_path, monkeypatch):
    from genbench.parallel import LocalPool

    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(16)))  # 16 cores to use
    pool = LocalPool(tmp_path, 4, "cpu")
    assert (pool.jobs, pool.threads, pool.gpus) == (4, 4, [])
    assert "CUDA_VISIBLE_DEVICES" not in pool.environment(0) or \
        pool.environment(0)["CUDA_VISIBLE_DEVICES"] == os.environ.get("CUDA_VISIBLE_DEVICES")
    assert pool.environment(3)["OMP_NUM_THREADS"] == "4"
    monkeypatch.setenv("GENBENCH_WORKER_THREADS", "8")
    assert LocalPool(tmp_path, 4, "cpu").threads == 8
    assert LocalPool(tmp_path, 0, "cpu").jobs == 16  # --jobs 0: one per core


def test_a_run_that_ends_as_ctrl_c_comes_is_taken_in_not_called_interrupted(workdir,
                                                                            monkeypatch):
    """Ctrl-C reaches the driver after a worker wrote its result but before the driver read
    it: the run is completed, so it is stored as completed, not reported as interrupted."""
    from genbench import parallel

    poll = parallel.LocalPool.poll

    def poll_then_ctrl_c(self, task):
        task.handle.wait(120)  # the worker has finished and written its result...
        assert (task.scratch / "result.json").is_file()
        raise KeyboardInterrupt  # ...and Ctrl-C comes before the driver takes it in

    monkeypatch.setattr(parallel.LocalPool, "poll", poll_then_ctrl_c)
    (item,) = plan(workdir, models=["gan"], seeds=[0])
    result = sweeps.execute([item], workdir=workdir, executor="local", jobs=2)
    assert result.interrupted and result.counts() == {"completed": 1}
    (record,) = Store(workdir).runs()
    assert record.status == "completed" and record.steps == STEPS
    assert Path(record.run_dir).parent == workdir.resolve() / "runs"
    assert not (workdir / SCRATCH).exists()
    monkeypatch.setattr(parallel.LocalPool, "poll", poll)
    again = sweeps.execute([item], workdir=workdir, executor="local", jobs=2)
    assert again.counts() == {"skipped": 1}


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_ray_cluster_by_address_with_token_authentication(tmp_path):
    """The documented cluster path, where this machine has a Ray token (Ray 2.59+ writes one
    for a local instance): `ray start --head` then enables token authentication, and the
    sweep with --executor ray:HOST:PORT, nothing else set, must send the token to get in."""
    pytest.importorskip("ray", reason="Ray is in the test extra: pip install -e '.[test]'")
    ray_cli = str(Path(sys.executable).with_name("ray"))
    if not Path(ray_cli).is_file():
        pytest.skip("the `ray` command is not beside this Python")
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    env["HOME"] = str(tmp_path / "home")  # its own token, not the user's
    subprocess.run([ray_cli, "get-auth-token", "--generate"], env=env, check=True,
                   capture_output=True, timeout=60)
    port, log = free_port(), tmp_path / "head.log"
    # Its own temporary folder (short: it holds sockets), so that no ray_current_cluster file
    # of the default one names this head after the test has killed it.
    temp = tempfile.mkdtemp(prefix="ray-", dir="/tmp")
    with open(log, "w") as out:
        head = subprocess.Popen([ray_cli, "start", "--head", "--block", "--port", str(port),
                                 "--num-cpus", "1", "--include-dashboard=false",
                                 "--disable-usage-stats", "--temp-dir", temp], env=env,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 90
        while "Ray runtime started" not in log.read_text():
            assert head.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        assert "Token authentication is enabled" in log.read_text()
        workdir = tmp_path / "wd"
        proc = subprocess.run(
            [sys.executable, "-m", "genbench", "sweep", "-m", "gan", "-d", "ring8", "--steps",
             "20", "--executor", f"ray:127.0.0.1:{port}", "--workdir", str(workdir),
             "--format", "json"], env=env, capture_output=True, text=True, timeout=240)
        assert proc.returncode == 0, proc.stderr[-2000:]
        (entry,) = json.loads(proc.stdout)["entries"]
        assert entry["status"] == "completed"
        (record,) = Store(workdir).runs()
        assert record.status == "completed" and record.steps == 20
    finally:  # the head and the processes it started (`ray stop` would stop every cluster)
        os.killpg(head.pid, signal.SIGKILL)
        head.wait(60)
        shutil.rmtree(temp, ignore_errors=True)


def test_ray_nodes_score_with_the_evaluator_the_driver_trained(tmp_path, monkeypatch):
    """Each node trained its own evaluator, and GPU training is not bit-reproducible, so runs
    of one sweep were scored in different feature spaces. Now the driver trains it before any
    task starts, and a task on another node receives the file (the node is stood in for by a
    second cache folder; the Ray calls by plain ones)."""
    ray = pytest.importorskip("ray", reason="Ray is in the test extra")
    from types import SimpleNamespace

    from test_evaluator_datasets import build, write_fake

    from genbench.features import evaluator as evaluator_module
    from genbench.parallel import RayPool, Task, _receive_evaluators, _Sink

    monkeypatch.setattr(evaluator_module, "EPOCH_EXAMPLES", 512)  # a quick evaluator
    monkeypatch.setattr(evaluator_module, "WIDTH", 8)
    driver_cache, node_cache = tmp_path / "driver-cache", tmp_path / "node-cache"
    monkeypatch.setenv("GENBENCH_CACHE_DIR", str(driver_cache))
    write_fake("mnist", tmp_path / "data")
    work = tmp_path / "work"
    blocks = sweeps.make_blocks(models=["gan"], datasets=["mnist", "ring8"], seeds=[0, 1])
    tasks = [Task(i, item, tmp_path / "scratch", str(tmp_path / "data"))
             for i, item in enumerate(sweeps.plan(sweeps.expand(blocks), work))]
    pool = RayPool.__new__(RayPool)  # its prepare step alone, without a cluster
    pool.workdir = work
    said: list[str] = []
    pool.prepare(tasks, said.append)
    assert said == ["the mnist evaluator: trained (or found) once here, for every node"]
    (trained,) = (driver_cache / "evaluators").glob("*.pt")  # once, none for ring8

    sink = _Sink(str(work), str(driver_cache))
    monkeypatch.setattr(ray, "get", lambda value: value)
    _receive_evaluators(SimpleNamespace(evaluators=SimpleNamespace(remote=sink.evaluators)),
                        node_cache)
    assert (node_cache / "evaluators" / trained.name).read_bytes() == trained.read_bytes()
    # On the node it is loaded, not trained again: the driver's feature space.
    monkeypatch.setenv("GENBENCH_CACHE_DIR", str(node_cache))
    reports: list = []
    on_node = build("mnist", tmp_path / "node-work", tmp_path / "data", reports)
    monkeypatch.setenv("GENBENCH_CACHE_DIR", str(driver_cache))
    assert on_node.info["key"] == build("mnist", work, tmp_path / "data").info["key"]
    assert not any("training" in str(what) for what, *_ in reports)


def test_a_worker_whose_driver_is_already_gone_stops_at_once(tmp_path):
    """The worker ties its life to the driver's itself (a preexec_fn did, between fork and
    exec, which is unsafe while the driver runs its display's thread); a driver that died
    before that shows as another parent."""
    from genbench.parallel import DRIVER_PID

    result = subprocess.run([sys.executable, "-m", "genbench.parallel",
                             str(tmp_path / "no-spec.json")], capture_output=True, text=True,
                            timeout=120, env={**os.environ, DRIVER_PID: "1"})
    assert result.returncode == 1 and result.stderr == ""  # before reading its spec


def test_a_numbered_gpu_on_ray_is_refused_before_ray_starts(cli, workdir):
    """--device cuda:1 was silently ignored on Ray, which assigns each task its GPU."""
    assert_one_line_error(cli("sweep", "-m", "gan", "-d", "ring8", "--steps", "3",
                              "--executor", "ray", "--device", "cuda:1", "--workdir", workdir),
                          "on Ray each task gets its GPU from Ray", "--device cuda")


def test_a_ray_task_removes_the_scratch_folders_of_tasks_killed_on_its_node(tmp_path):
    """Tasks killed with -9 left /tmp/genbench-task-* behind on their nodes for good."""
    from genbench.atomic import hold_folder
    from genbench.parallel import TASK_PREFIX, _remove_dead_tasks

    dead, live, fresh = (tmp_path / f"{TASK_PREFIX}{name}" for name in ("dead", "live", "fresh"))
    for folder in (dead, live, fresh):
        (folder / "runs").mkdir(parents=True)
    old = time.time() - 3600
    for folder in (dead, live):
        os.utime(folder, (old, old))
    held = hold_folder(live)  # a task still running holds its folder
    assert _remove_dead_tasks(tmp_path) == [dead]
    assert not dead.exists() and live.is_dir() and fresh.is_dir()  # fresh: just made
    held.release()
