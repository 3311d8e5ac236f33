"""Sweeps past one process: ``--executor local --jobs N`` and ``--executor ray[:ADDRESS]``.

Every entry runs in a worker with a scratch workdir of its own: a subprocess of this machine
(``local``, pinned to one GPU or to its share of the CPU threads) or a Ray task anywhere in a
cluster (``ray``). The worker runs :func:`genbench.api.run` in its scratch and hands back the
run's folder and record. Only the driver (the ``genbench sweep`` process) moves the folder into
its workdir and writes the record into its store: SQLite is never written from two processes
or two hosts, and workers need no shared file system.

``WORKDIR/.sweep/<entry>/`` is the driver's scratch for one entry, itself a workdir (a store
and ``runs/<run id>/``). A local worker trains in it directly. A Ray task trains in a temporary
folder of its own node and ships each checkpoint it saves back to an actor on the driver's
node, which keeps it there. Either way, a worker that dies (kill -9, out of memory, its node
leaving) loses only what it did since its last checkpoint: the run is started again from that
checkpoint, by genbench for local workers and by Ray's task retries on a cluster (Ray knows
when a node has left, and only Ray can place the retry on another node). A run that fails for
a reason of its own (a bad setting, divergence, missing data) returns a record like any other
and is never retried. A sweep rerun after the driver itself died finds the scratch folders
and resumes their runs from their checkpoints.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from genbench.atomic import atomic_write, hold_folder, write_text
from genbench.errors import GenbenchError

SCRATCH = ".sweep"
# A run whose worker died is started again (from its last checkpoint) at most this often.
RETRIES = 2
# Statuses after which a run is over: its record goes to the store, its scratch is removed.
FINAL = ("completed", "diverged", "failed")
POLL_SECONDS = 0.25
REPORT_SECONDS = 0.5


def parse_executor(text: str) -> tuple[str, str | None]:
    """``local`` -> ("local", None); ``ray`` / ``ray:HOST:PORT`` -> ("ray", address)."""
    name, colon, address = text.partition(":")
    if text == "local":
        return "local", None
    if name == "ray" and address.startswith(("ray://", "anyscale://")):
        # Ray Client: the driver is outside the cluster, and the actor that keeps the
        # checkpoints "on the driver's node" would keep them on the cluster's head instead.
        raise GenbenchError(f"--executor {text}: Ray Client addresses are not supported; run "
                            f"genbench on a machine of the cluster (one that ran `ray start`) "
                            f"with --executor ray:auto or ray:HEAD_IP:6379")
    if name == "ray" and (address or not colon):
        return "ray", address or None
    raise GenbenchError(f"--executor {text}: choose local, ray (a local Ray instance) or "
                        f"ray:ADDRESS (a running cluster, e.g. ray:10.0.0.1:6379 or ray:auto)")


def entry_key(entry) -> str:
    """The name of an entry's scratch folder: model, dataset, seed and configuration."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", entry.dataset).strip("_")
    return f"{entry.model}-{safe}-s{entry.seed}-{entry.config_hash[:12]}"


def _spec(entry, device: str, data_root: str | None, threads: int) -> dict[str, Any]:
    """What a worker needs to run an entry, as JSON."""
    return {"model": entry.model, "dataset": entry.dataset, "seed": entry.seed,
            "profile": entry.profile, "steps": entry.steps,
            "overrides": list(entry.overrides), "speed": asdict(entry.speed),
            "device": device, "data_root": data_root, "threads": threads}


# --- the worker: one entry in one scratch workdir -----------------------------------------


def work(spec: dict[str, Any], scratch: Path, report: Callable[[dict], None]) -> dict[str, Any]:
    """Run one entry with ``scratch`` as its workdir, continuing the run a previous attempt
    left there (from its checkpoint). ``report(info)`` hears the progress, at most twice a
    second. Returns ``{"status", "message", "run_id"}``; the record is in scratch's store
    (``run_id`` is empty when the run failed before it had one, e.g. a missing dataset)."""
    import torch

    from genbench import api
    from genbench.results.store import STORE_NAME, Store

    torch.set_num_threads(max(1, int(spec["threads"])))
    resume = (scratch / STORE_NAME).is_file() and bool(Store(scratch).runs())
    where = _where(spec)
    last = [0.0]

    def send(phase: str, done: int, total: int) -> None:
        now = time.monotonic()
        if now - last[0] >= REPORT_SECONDS or done >= total:
            last[0] = now
            report({"phase": phase, "step": done, "total": total, "where": where,
                    "pid": os.getpid(), "host": socket.gethostname()})

    send("starting", 0, 1)
    speed = spec["speed"]
    try:
        record = api.run(spec["model"], spec["dataset"], profile=spec["profile"],
                         seed=spec["seed"], steps=spec["steps"], device=spec["device"],
                         overrides=tuple(spec["overrides"]), workdir=scratch, resume=resume,
                         data_root=spec["data_root"], precision=speed["precision"],
                         channels_last=speed["channels_last"],
                         compile=speed["compile"] or False, log_every=speed["log_every"],
                         progress=lambda step, total, losses: send("training", step, total),
                         eval_progress=lambda what, done, total: send(what, done, total),
                         notify=lambda text: print(text, flush=True))
        return {"status": record.status, "message": record.message, "run_id": record.run_id}
    except KeyboardInterrupt:
        status, message = "interrupted", "interrupted (Ctrl-C)"
    except GenbenchError as exc:
        status, message = "failed", str(exc)
    except Exception as exc:  # a bug: recorded as the run's failure, with its type
        status, message = "failed", f"{type(exc).__name__}: {exc}"
    runs = Store(scratch).runs() if (scratch / STORE_NAME).is_file() else []
    return {"status": status, "message": message, "run_id": runs[-1].run_id if runs else ""}


def _where(spec: dict[str, Any]) -> str:
    host = socket.gethostname().split(".")[0]
    gpus = os.environ.get("CUDA_VISIBLE_DEVICES")
    if spec["device"].startswith("cuda") or (spec["device"] == "auto" and gpus):
        return f"{host} GPU {gpus}" if gpus else f"{host} {spec['device']}"
    return f"{host} CPU x{spec['threads']}"


def _worker_main(spec_path: str) -> int:
    """``python -m genbench.parallel SPEC.json``: a local worker (see :class:`LocalPool`)."""
    _die_with_parent()
    spec = json.loads(Path(spec_path).read_text(encoding="utf-8"))
    scratch = Path(spec["scratch"])

    def report(info: dict) -> None:
        write_text(scratch / "progress.json", json.dumps(info))

    result = work(spec, scratch, report)
    write_text(scratch / "result.json", json.dumps(result))
    return 130 if result["status"] == "interrupted" else 0


# --- the driver's side: scratch folders in, records and folders out -------------------------


def seed_scratch(workdir: Path, scratch: Path, record) -> None:
    """Put an interrupted run of the store (a sequential sweep's, with its checkpoint) into an
    entry's empty scratch, so the worker resumes it under its own id."""
    from genbench.results.store import Store

    if (scratch / "runs").is_dir():
        return  # a previous attempt's scratch: it is newer
    source = Path(record.run_dir)
    target = scratch / "runs" / source.name
    shutil.copytree(source, target)
    record.run_dir = str(target.resolve())
    Store(scratch).save(record)


def ingest(workdir: Path, scratch: Path, run_id: str):
    """Move a finished run from an entry's scratch into the workdir and store its record; the
    scratch is removed. The folder moves first: a driver killed in between leaves the
    scratch's record to be ingested by the next sweep, never a record without its folder."""
    from genbench.api import save_record
    from genbench.results.store import Store

    record = Store(scratch).get(run_id)
    source = Path(record.run_dir)
    target = Path(workdir).resolve() / "runs" / source.name
    if source.is_dir():
        target.parent.mkdir(parents=True, exist_ok=True)
        old = None
        if target.exists():  # the interrupted attempt this run resumed
            old = target.with_name(f".{target.name}.replaced")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(target, old)
        os.replace(source, target)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    record.run_dir = str(target)
    save_record(Store(workdir), record, target)
    shutil.rmtree(scratch, ignore_errors=True)
    return record


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


@dataclass
class Task:
    """One entry handed to a worker, as the driver follows it."""

    index: int
    item: Any  # sweep.Planned
    scratch: Path
    data_root: str | None = None
    state: str = "queued"  # queued | running | retrying | done
    attempts: int = 0
    progress: dict = field(default_factory=dict)
    started: float = 0.0
    handle: Any = None  # the worker's Popen or Ray object ref

    @property
    def entry(self):
        return self.item.entry


# Follows the sweep: called with every task after each poll (their state and progress).
Watch = Callable[[list[Task]], None]


class LocalPool:
    """Workers as subprocesses of this machine: one per GPU (``CUDA_VISIBLE_DEVICES``), or
    ``jobs`` at once with the CPU's threads shared out so that they never oversubscribe it."""

    def __init__(self, workdir: Path, jobs: int, device: str) -> None:
        from genbench.api import resolve_device
        from genbench.features.cache import cache_dir

        self.workdir = workdir
        torch_device = resolve_device(device)
        cores = usable_cores()
        self.device = device
        self.gpus: list[str] = []
        if torch_device.type == "cuda":
            import torch

            visible = os.environ.get("CUDA_VISIBLE_DEVICES")
            count = torch.cuda.device_count()
            # CUDA_VISIBLE_DEVICES may name more GPUs than exist; CUDA shows only those
            # before the first that does not, and so do the workers' slots.
            ids = ([g.strip() for g in visible.split(",") if g.strip()][:count] if visible
                   else [str(i) for i in range(count)])
            # "cuda:3" keeps to GPU 3; "cuda" and "auto" use every visible GPU, one per slot.
            self.gpus = [ids[torch_device.index]] if torch_device.index is not None else ids
            self.device = "cuda"
        # --jobs 0: one run per GPU, or one per core.
        self.jobs = jobs or len(self.gpus) or cores
        self.threads = _threads(max(1, cores // self.jobs))
        self.cache = str(Path(cache_dir(workdir)).resolve())
        self.free = list(range(self.jobs))
        self.slot: dict[int, int] = {}

    def launch(self, task: Task) -> None:
        slot = self.free.pop(0)
        self.slot[task.index] = slot
        spec = _spec(task.entry, self.device, task.data_root, self.threads)
        spec["scratch"] = str(task.scratch.resolve())
        task.scratch.mkdir(parents=True, exist_ok=True)
        (task.scratch / "result.json").unlink(missing_ok=True)
        write_text(task.scratch / "spec.json", json.dumps(spec))
        env = self.environment(slot)
        log = open(task.scratch / "worker.log", "ab")
        try:
            task.handle = subprocess.Popen(
                [sys.executable, "-m", "genbench.parallel", str(task.scratch / "spec.json")],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env,
                start_new_session=True)  # the driver passes Ctrl-C on itself
        finally:
            log.close()

    def environment(self, slot: int) -> dict[str, str]:
        """The environment of the worker in ``slot``: its GPU, its threads, the shared cache,
        and the driver's pid (the worker dies with it)."""
        env = {**os.environ, "OMP_NUM_THREADS": str(self.threads),
               "MKL_NUM_THREADS": str(self.threads), DRIVER_PID: str(os.getpid())}
        env.setdefault("GENBENCH_CACHE_DIR", self.cache)  # evaluators trained once, shared
        if self.gpus:
            env["CUDA_VISIBLE_DEVICES"] = self.gpus[slot % len(self.gpus)]
        return env

    def poll(self, task: Task) -> tuple[bool, dict | None, str]:
        """(finished, the worker's result or None when it died, why it died)."""
        code = task.handle.poll()
        if code is None:
            return False, None, ""
        self.free.append(self.slot.pop(task.index))
        self.free.sort()
        result = _read_json(task.scratch / "result.json")
        if result is not None:
            return True, result, ""
        why = (f"killed by signal {-code}" if code < 0 else f"exited with code {code}")
        tail = _last_line(task.scratch / "worker.log")
        return True, None, why + (f" ({tail})" if tail else "")

    def progress(self, task: Task) -> dict:
        return _read_json(task.scratch / "progress.json") or {}

    def interrupt(self, tasks: list[Task], wait: float = 60.0) -> None:
        """Ctrl-C to every running worker (each records its run as interrupted with a
        checkpoint), then kill -9 what has not stopped after ``wait`` seconds."""
        running = [t for t in tasks if t.handle is not None and t.handle.poll() is None]
        for task in running:
            try:
                task.handle.send_signal(signal.SIGINT)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + wait
        for task in running:
            try:
                task.handle.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                task.handle.kill()
                task.handle.wait()

    def prepare(self, tasks: list[Task], notify: Callable[[str], None] | None = None) -> None:
        """Nothing: local workers share the workdir's cache, and the first to need an
        evaluator trains it while the others wait (a file lock)."""

    def close(self) -> None:
        pass


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity: Slurm, taskset and containers
    limit it), not the machine's count."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):  # not Linux
        return os.cpu_count() or 1


def _threads(share: int) -> int:
    """A worker's CPU threads: its share of the cores, or GENBENCH_WORKER_THREADS."""
    value = os.environ.get("GENBENCH_WORKER_THREADS", "").strip()
    if not value:
        return share
    if not value.isdigit() or int(value) < 1:
        raise GenbenchError(f"GENBENCH_WORKER_THREADS={value}: must be a whole number >= 1")
    return int(value)


DRIVER_PID = "GENBENCH_DRIVER_PID"


def _die_with_parent() -> None:
    """In a local worker, as it starts: killed when the driver dies (Linux), so a killed
    sweep leaves no worker behind; the rerun resumes its run from the checkpoint.

    Done here, not in a ``preexec_fn`` between fork and exec, which is unsafe while the
    driver has other threads (its live display's). A driver that died before this ran is
    seen as a changed parent."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    driver = os.environ.get(DRIVER_PID, "")
    if driver.isdigit() and os.getppid() != int(driver):
        os._exit(1)  # orphaned already: the rerun resumes the entry


def _last_line(path: Path) -> str:
    try:
        lines = [line for line in path.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        return ""
    return lines[-1].strip()[:200] if lines else ""


# --- Ray -----------------------------------------------------------------------------------


class _Sink:
    """A Ray actor on the driver's node: it keeps the latest checkpoint each task ships in the
    entry's scratch (a workdir on the driver's disk), hands it to a retried task, and writes the
    tasks' progress there for the driver to read."""

    def __init__(self, workdir: str, cache: str = "") -> None:
        self.workdir = Path(workdir)
        self.cache = Path(cache) if cache else None
        self.attempts: dict[str, int] = {}

    def evaluators(self) -> dict[str, bytes]:
        """The driver's trained evaluators (``CACHE/evaluators/*.pt``), by file name."""
        from genbench.features.evaluator import EVALUATORS

        folder = self.cache / EVALUATORS if self.cache else None
        if folder is None or not folder.is_dir():
            return {}
        return {path.name: path.read_bytes() for path in sorted(folder.glob("*.pt"))}

    def seed(self, key: str) -> tuple[int, dict | None, bytes | None]:
        """The attempt's number and the run to continue: its record and checkpoint."""
        from genbench.results.store import STORE_NAME, Store

        self.attempts[key] = self.attempts.get(key, 0) + 1
        scratch = self.workdir / SCRATCH / key
        if not (scratch / STORE_NAME).is_file():
            return self.attempts[key], None, None
        runs = Store(scratch).runs()
        if not runs:
            return self.attempts[key], None, None
        record = runs[-1]
        checkpoint = Path(record.run_dir) / "checkpoint.pt"
        data = checkpoint.read_bytes() if checkpoint.is_file() else None
        return self.attempts[key], record.to_dict(), data

    def save(self, key: str, record: dict, checkpoint: bytes | None) -> None:
        from genbench.results.record import RunRecord
        from genbench.results.store import Store

        scratch = self.workdir / SCRATCH / key
        record = RunRecord.from_dict(record)
        run_dir = scratch / "runs" / Path(record.run_dir).name
        run_dir.mkdir(parents=True, exist_ok=True)
        if checkpoint is not None:
            atomic_write(run_dir / "checkpoint.pt", lambda tmp: Path(tmp).write_bytes(checkpoint))
        record.run_dir = str(run_dir.resolve())
        Store(scratch).save(record)

    def progress(self, key: str, info: dict) -> None:
        scratch = self.workdir / SCRATCH / key
        scratch.mkdir(parents=True, exist_ok=True)
        info = {**info, "attempt": self.attempts.get(key, 1)}
        write_text(scratch / "progress.json", json.dumps(info))


_TOKEN_FILE = "~/.ray/auth_token"


def _receive_evaluators(sink, cache: Path) -> None:
    """On a node other than the driver's: the driver's evaluators into this node's cache, so
    every run of the sweep is scored in one feature space (an evaluator trained here would
    differ: GPU training is not bit-reproducible)."""
    import ray

    from genbench.features.evaluator import EVALUATORS

    folder = cache / EVALUATORS
    for name, data in ray.get(sink.evaluators.remote()).items():
        if not (folder / name).is_file():
            folder.mkdir(parents=True, exist_ok=True)
            atomic_write(folder / name, lambda tmp, data=data: Path(tmp).write_bytes(data))


def _token_if_any() -> None:
    """Authenticate to a cluster by address when this machine has a Ray token.

    Since Ray 2.59, `ray start --head` enables token authentication and ``ray.init()`` of a
    local instance or of ``address="auto"`` uses it, but a driver given HOST:PORT connects
    without a token unless RAY_AUTH_MODE=token is set, and the head refuses it (after a
    minute of InvalidAuthToken warnings). Where the mode is unset and a token is at hand
    (RAY_AUTH_TOKEN, RAY_AUTH_TOKEN_PATH or ~/.ray/auth_token), send it: a cluster without
    authentication ignores it. Ray reads the mode when it is imported, so this must come
    first."""
    if os.environ.get("RAY_AUTH_MODE"):
        return  # the user's choice
    if (os.environ.get("RAY_AUTH_TOKEN") or os.environ.get("RAY_AUTH_TOKEN_PATH")
            or Path(_TOKEN_FILE).expanduser().is_file()):
        os.environ["RAY_AUTH_MODE"] = "token"


def _reachable(address: str, timeout: float = 5.0) -> None:
    """Refuse, in one line, a HOST:PORT no Ray head answers on."""
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise GenbenchError(f"--executor ray:{address}: give the head node as HOST:PORT (e.g. "
                            f"ray:10.0.0.1:6379) or ray:auto")
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as exc:
        raise GenbenchError(f"cannot reach a Ray head node at {address} ({exc.strerror or exc}); "
                            f"start one with `ray start --head --port {port}` there, or pass "
                            f"--executor ray for a local Ray instance") from None


def _ray_task(spec: dict[str, Any], key: str, sink) -> dict[str, Any]:
    """One entry as a Ray task, in a temporary workdir of the node it lands on. Returns the
    worker's result, the run's record and its folder (a tar archive) for the driver."""
    import ray

    from genbench.results.record import RunRecord
    from genbench.results.store import STORE_NAME, Store

    scratch = Path(tempfile.mkdtemp(prefix=TASK_PREFIX))
    hold = hold_folder(scratch)  # released at the end, or when this process dies (kill -9)
    _remove_dead_tasks(scratch.parent)
    # Evaluators and reference features are computed once per node: in the driver's cache on
    # the driver's node, in the node's temporary folder elsewhere (unless GENBENCH_CACHE_DIR).
    here = ray.get_runtime_context().get_node_id() == spec["driver_node"]
    os.environ.setdefault("GENBENCH_CACHE_DIR", spec["cache"] if here else str(
        Path(tempfile.gettempdir()) / "genbench-cache"))
    try:
        if not here:
            _receive_evaluators(sink, Path(os.environ["GENBENCH_CACHE_DIR"]))
        attempt, record, checkpoint = ray.get(sink.seed.remote(key))
        if record is not None:  # a previous attempt's run: continue it from its checkpoint
            saved = RunRecord.from_dict(record)
            run_dir = scratch / "runs" / Path(saved.run_dir).name
            run_dir.mkdir(parents=True)
            if checkpoint is not None:
                (run_dir / "checkpoint.pt").write_bytes(checkpoint)
            saved.run_dir = str(run_dir)
            Store(scratch).save(saved)
        stop = threading.Event()

        def ship() -> None:
            """Each checkpoint the run saves, with its record, to the driver's node; once
            more after the run returns, for the checkpoint a cancelled run saves as it stops."""
            seen: dict[Path, float] = {}
            while True:
                stopping = stop.wait(1.0)
                for path in (scratch / "runs").glob("*/checkpoint.pt"):
                    try:
                        stamp = path.stat().st_mtime
                        if seen.get(path) == stamp:
                            continue
                        data = path.read_bytes()
                        runs = Store(scratch).runs() if (scratch / STORE_NAME).is_file() else []
                    except OSError:
                        continue
                    if runs:
                        try:
                            ray.get(sink.save.remote(key, runs[-1].to_dict(), data))
                        except Exception:  # noqa: BLE001 - the next checkpoint tries again
                            continue
                        seen[path] = stamp
                if stopping:
                    return

        shipper = threading.Thread(target=ship, daemon=True)
        shipper.start()
        # Ray starts tasks in a folder of its own: relative paths (--data-root ./data,
        # paired-folder:./facades) mean what they meant where the sweep was started, when
        # that folder is on this node too (a shared file system).
        before = os.getcwd()
        if spec.get("cwd") and Path(spec["cwd"]).is_dir():
            os.chdir(spec["cwd"])
        try:
            result = work(spec, scratch,
                          lambda info: sink.progress.remote(key, {**info, "attempt": attempt}))
        finally:
            os.chdir(before)
            stop.set()
            shipper.join()
        out: dict[str, Any] = {"result": result, "record": None, "archive": None}
        if result["run_id"]:
            record = Store(scratch).get(result["run_id"])
            buffer = io.BytesIO()
            with tarfile.open(fileobj=buffer, mode="w") as tar:
                tar.add(record.run_dir, arcname=Path(record.run_dir).name)
            out["record"], out["archive"] = record.to_dict(), buffer.getvalue()
        return out
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        if hold is not None:  # a reused worker process lives on: let go of the folder now
            hold.release()


TASK_PREFIX = "genbench-task-"


def _remove_dead_tasks(folder: Path, settled: float = 60.0) -> list[Path]:
    """The scratch folders that tasks killed with -9 left on this node (nothing of theirs
    removed them): those no live task holds, older than ``settled`` seconds (a task holds its
    folder just after making it). Where folders cannot be locked, none is removed."""
    removed = []
    for other in folder.glob(f"{TASK_PREFIX}*"):
        try:
            if not other.is_dir() or time.time() - other.stat().st_mtime < settled:
                continue
            held = hold_folder(other)
        except OSError:
            continue
        if held is None or held.fd is None:  # a live task's, or no locks here
            continue
        shutil.rmtree(other, ignore_errors=True)
        held.release()
        removed.append(other)
    return removed


def _smallest_node(nodes: list[dict], use_gpu: bool) -> tuple[int, int]:
    """(CPUs of the smallest node that can run a task, the CPUs per GPU on the GPU node with
    the fewest of them) among the live nodes of ``ray.nodes()``."""
    able = [n.get("Resources", {}) for n in nodes if n.get("Alive", True)]
    able = [r for r in able if r.get("CPU", 0) >= 1 and (r.get("GPU", 0) >= 1 or not use_gpu)]
    if not able:
        return 1, 1
    cpus = int(min(r["CPU"] for r in able))
    per_gpu = int(min(r["CPU"] // r["GPU"] for r in able)) if use_gpu else cpus
    return max(1, cpus), max(1, per_gpu)


class RayPool:
    """Workers as Ray tasks, on a running cluster (``address``) or a local Ray instance."""

    def __init__(self, workdir: Path, jobs: int | None, device: str,
                 address: str | None) -> None:
        if device.startswith("cuda:"):
            raise GenbenchError(f"--device {device} names a GPU of this machine; on Ray each "
                                f"task gets its GPU from Ray: pass --device cuda")
        if address and address != "auto":
            _token_if_any()  # before Ray is imported: it reads its settings then
        try:
            import ray
        except ImportError:
            raise GenbenchError('--executor ray needs Ray: pip install "genbench[ray]" (or pip '
                                'install ray)') from None
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        from genbench.features.cache import cache_dir

        self.ray = ray
        self.started = not ray.is_initialized()
        if self.started and address and address != "auto":
            _reachable(address)  # Ray itself would retry an unreachable address for minutes
        if self.started:
            options = {"include_dashboard": False, "log_to_driver": False,
                       "configure_logging": False}
            try:
                if address:
                    ray.init(address=address, **options)
                else:  # a new instance, not a cluster an old ray_current_cluster file names
                    ray.init(address="local", num_cpus=usable_cores(), **options)
            except (ConnectionError, RuntimeError, ValueError, ray.exceptions.RayError) as exc:
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                hint = ("Start a cluster with `ray start --head` and pass --executor "
                        "ray:ADDRESS, or pass --executor ray for a local one")
                if address:
                    hint += ("; a cluster with token authentication (the default of `ray "
                             "start` since Ray 2.59) needs its token here: run `ray "
                             f"get-auth-token` on the head node and put it in {_TOKEN_FILE} "
                             "or RAY_AUTH_TOKEN")
                where = f" at {address}" if address else ""
                raise GenbenchError(f"cannot start or reach Ray{where}: {first}. {hint}") \
                    from None
        resources = ray.cluster_resources()
        self.gpus = int(resources.get("GPU", 0))
        cpus = int(resources.get("CPU", 1))
        use_gpu = device.startswith("cuda") or (device == "auto" and self.gpus > 0)
        if use_gpu and not self.gpus:
            raise GenbenchError(f"--device {device}: the Ray cluster has no GPUs; pass "
                                f"--device cpu")
        self.device = "cuda" if use_gpu else ("cpu" if device == "auto" else device)
        # Runs at once: one per GPU, or as many as the CPUs allow with --jobs's share of threads.
        self.jobs = jobs or (self.gpus if use_gpu else cpus)
        # A task runs on one node: its threads (and the CPUs it reserves) are a share of the
        # smallest node that can take it, or Ray would hold it back forever as infeasible.
        node_cpus, node_share = _smallest_node(ray.nodes(), use_gpu)
        share = (max(1, cpus // self.jobs) if not use_gpu else node_share)
        self.threads = min(_threads(min(share, node_cpus)), node_cpus)
        here = ray.get_runtime_context().get_node_id()
        sink = ray.remote(num_cpus=0)(_Sink).options(
            scheduling_strategy=NodeAffinitySchedulingStrategy(node_id=here, soft=False))
        self.workdir = workdir
        self.cache = str(Path(cache_dir(workdir)).resolve())
        self.sink = sink.remote(str(Path(workdir).resolve()), self.cache)
        # Given to ray.remote itself, num_gpus also gives each GPU task a fresh worker process
        # (max_calls=1): a reused one keeps the GPU its first task had, whatever Ray assigns
        # next, and two runs would share a GPU while another idles.
        self.task = ray.remote(
            num_cpus=self.threads, num_gpus=1 if use_gpu else 0,
            max_calls=1 if use_gpu else 0, max_retries=RETRIES,
            retry_exceptions=False)(_ray_task)
        self.node = here

    def prepare(self, tasks: list[Task], notify: Callable[[str], None] | None = None) -> None:
        """Train, on the driver, each evaluator the tasks will score with, before any task
        starts: tasks on other nodes receive it instead of training their own."""
        from genbench import api, evaluation
        from genbench.plugins import get_registries

        datasets = get_registries().datasets
        wanted = dict.fromkeys((t.entry.dataset, t.data_root) for t in tasks)
        for name, data_root in wanted:
            try:
                spec = datasets.get(name)
                if api.check_extractor(None, spec) != "evaluator":
                    continue
                if notify:
                    notify(f"the {name} evaluator: trained (or found) once here, for every "
                           f"node")
                evaluation.Scorer(spec, api.resolve_device("auto"), self.workdir,
                                  {"data_root": data_root}, seed=0).extractor("evaluator")
            except GenbenchError:
                continue  # the entries fail on their own, each with the message

    def launch(self, task: Task) -> None:
        spec = _spec(task.entry, self.device, task.data_root, self.threads)
        spec["driver_node"], spec["cache"] = self.node, self.cache
        spec["cwd"] = os.getcwd()  # relative --data-root and folder datasets mean from here
        task.scratch.mkdir(parents=True, exist_ok=True)
        task.handle = self.task.remote(spec, task.scratch.name, self.sink)

    def poll(self, task: Task) -> tuple[bool, dict | None, str]:
        ready, _ = self.ray.wait([task.handle], timeout=0)
        if not ready:
            return False, None, ""
        try:
            out = self.ray.get(task.handle)
        except self.ray.exceptions.RayError as exc:
            first = next((line for line in str(exc).splitlines() if line.strip()), "")
            return True, None, f"{type(exc).__name__}: {first.strip()[:200]}"
        if out["record"] is not None:  # the run's folder and record into the scratch
            self._unpack(task.scratch, out["record"], out["archive"])
        write_text(task.scratch / "result.json", json.dumps(out["result"]))
        return True, out["result"], ""

    @staticmethod
    def _unpack(scratch: Path, record: dict, archive: bytes) -> None:
        from genbench.results.record import RunRecord
        from genbench.results.store import Store

        saved = RunRecord.from_dict(record)
        name = Path(saved.run_dir).name
        target = scratch / "runs" / name
        unpacked = scratch / f".unpack-{name}"
        shutil.rmtree(unpacked, ignore_errors=True)
        unpacked.mkdir(parents=True)
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            if hasattr(tarfile, "data_filter"):  # Python >= 3.10.12: refuse odd members
                tar.extractall(unpacked, filter="data")
            else:
                tar.extractall(unpacked)
        shutil.rmtree(target, ignore_errors=True)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(unpacked / name, target)
        shutil.rmtree(unpacked, ignore_errors=True)
        saved.run_dir = str(target.resolve())
        Store(scratch).save(saved)

    def progress(self, task: Task) -> dict:
        info = _read_json(task.scratch / "progress.json") or {}
        if info.get("attempt"):
            task.attempts = max(task.attempts, info["attempt"])
        return info

    def interrupt(self, tasks: list[Task], wait: float = 60.0) -> None:
        """Ctrl-C for each running task (a run stops after its step and saves a checkpoint,
        which its task ships), then wait up to ``wait`` seconds for them to end, before
        ``close`` shuts Ray down under them."""
        handles = [task.handle for task in tasks if task.handle is not None]
        for handle in handles:
            self.ray.cancel(handle)
        if handles:
            self.ray.wait(handles, num_returns=len(handles), timeout=wait)

    def close(self) -> None:
        if self.started:
            self.ray.shutdown()


# --- the loop ------------------------------------------------------------------------------


def execute(planned: list, *, workdir: str | Path, executor: str = "local",
            jobs: int | None = None, device: str = "auto", data_root: str | None = None,
            fail_fast: bool = False, watch: Watch | None = None,
            report: Callable[[int, Any], None] | None = None,
            notify: Callable[[str], None] | None = None):
    """Run the entries that are not done in workers, ``jobs`` at once; see the module's doc.

    ``watch(tasks)`` is called after every poll with every task (state, progress, where);
    ``report(index, outcome)`` as each entry ends. Returns a :class:`genbench.sweep.SweepResult`
    with the outcomes in the plan's order."""
    from genbench import api
    from genbench import sweep as sweeps

    workdir = api.prepare_workdir(workdir)
    kind, address = parse_executor(executor)
    torch_device = api.resolve_device(device) if kind == "local" else None
    if torch_device is not None and torch_device.type == "cpu":
        # On a GPU the workers check (--precision bf16 asks the GPU, and asking it here
        # would hold a CUDA context in the driver for the whole sweep).
        for options in dict.fromkeys(item.entry.speed for item in planned):
            options.check_device(torch_device)
    outcomes: dict[int, Any] = {}
    tasks: list[Task] = []
    for index, item in enumerate(planned):
        if item.action == "skip":
            outcomes[index] = sweeps._outcome(item.entry, item.record, "skipped")
            if report:
                report(index, outcomes[index])
            continue
        tasks.append(Task(index, item, workdir / SCRATCH / entry_key(item.entry), data_root))
    pool = None
    interrupted = stop = False
    try:
        if tasks:
            pool = (LocalPool(workdir, jobs or 0, device) if kind == "local"
                    else RayPool(workdir, jobs, device, address))
            pool.prepare(tasks, notify)
        queue = deque(tasks)
        running: list[Task] = []

        def finish(task: Task, outcome) -> None:
            nonlocal stop
            task.state = "done"
            outcomes[task.index] = outcome
            if outcome.status in ("failed", "diverged") and fail_fast:
                stop = True
            if report:
                report(task.index, outcome)

        while queue or running:
            while queue and not stop and len(running) < pool.jobs:
                task = queue.popleft()
                ready = _ready(task, workdir)
                if ready is not None:  # done meanwhile, or left finished by a killed driver
                    finish(task, ready)
                    continue
                if task.item.action == "resume" and task.item.record is not None:
                    seed_scratch(workdir, task.scratch, task.item.record)
                task.attempts += 1
                task.state, task.started = "running", time.monotonic()
                pool.launch(task)
                running.append(task)
            if stop and queue:
                for task in queue:
                    finish(task, sweeps.Outcome(task.entry, "not run"))
                queue.clear()
            for task in list(running):
                task.progress = pool.progress(task) or task.progress
                over, result, died = pool.poll(task)
                if not over:
                    continue
                running.remove(task)
                if result is None and kind == "local" and task.attempts <= RETRIES:
                    task.state = "retrying"
                    task.progress = {**task.progress, "phase": f"retrying: worker {died}"}
                    queue.appendleft(task)  # from its last checkpoint, in the scratch
                    continue
                finish(task, _finished(task, workdir, result, died,
                                       time.monotonic() - task.started))
            if watch:
                watch(tasks)
            if running:
                time.sleep(POLL_SECONDS)
    except KeyboardInterrupt:
        interrupted = True
        left = [t for t in tasks if t.state != "done"]
        if pool is not None:
            pool.interrupt([t for t in left if t.state == "running"])
        for task in left:
            # A worker that finished its run as the signal came: its run is taken in.
            taken = (_taken_in(task, workdir, time.monotonic() - task.started)
                     if task.state == "running" else None)
            status = "interrupted" if task.state == "running" else "not run"
            outcomes[task.index] = taken or sweeps.Outcome(
                task.entry, status, message="interrupted (Ctrl-C); rerun the sweep to resume"
                if status == "interrupted" else "")
            task.state = "done"
            if report:
                report(task.index, outcomes[task.index])
    finally:
        if pool is not None:
            pool.close()
        scratch = workdir / SCRATCH
        if scratch.is_dir() and not any(scratch.iterdir()):
            scratch.rmdir()
    return sweeps.SweepResult([outcomes[i] for i in sorted(outcomes)], interrupted)


def _ready(task: Task, workdir: Path):
    """The outcome of an entry that needs no worker: completed in the store since the sweep
    was planned (another sweep did it), or finished in its scratch by a worker whose driver
    died before taking the result in."""
    from genbench import sweep as sweeps

    now = sweeps.plan([task.entry], workdir)[0]
    if now.action == "skip":
        return sweeps._outcome(task.entry, now.record, "skipped")
    return _taken_in(task, workdir, 0.0)


def _taken_in(task: Task, workdir: Path, seconds: float):
    """The outcome of a run its worker finished (its result is in the scratch) but the driver
    has not taken in yet, now taken in; None when there is none."""
    result = _read_json(task.scratch / "result.json")
    if result and result.get("status") in FINAL and result.get("run_id"):
        return _finished(task, workdir, result, "", seconds)
    return None


def _finished(task: Task, workdir: Path, result: dict | None, died: str, seconds: float):
    """The outcome of a task whose worker ended: its run taken into the store (a run that
    failed before it had a record leaves none, as ``genbench run`` does)."""
    from genbench import sweep as sweeps

    entry = task.entry
    if result is None:
        tries = f" ({task.attempts} attempts)" if task.attempts > 1 else ""
        return sweeps.Outcome(entry, "failed", wall_time=seconds,
                              message=f"worker {died}{tries}; rerun the sweep to resume "
                                      f"from its last checkpoint")
    if result["status"] == "interrupted":
        return sweeps.Outcome(entry, "interrupted", run_id=result.get("run_id", ""),
                              wall_time=seconds, message=result["message"])
    if not result.get("run_id"):
        shutil.rmtree(task.scratch, ignore_errors=True)
        return sweeps.Outcome(entry, "failed", wall_time=seconds, message=result["message"])
    record = ingest(workdir, task.scratch, result["run_id"])
    outcome = sweeps._outcome(entry, record, record.status)
    outcome.attempts = task.attempts
    return outcome


if __name__ == "__main__":
    sys.exit(_worker_main(sys.argv[1]))
