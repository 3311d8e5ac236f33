"""The training loop: resume after a kill, exact continuation, the NaN guard, checkpoints, and
uint8 data converted a batch at a time exactly as the float path converts it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from genbench import api
from genbench.data.base import resize_images
from genbench.results.store import Store
from genbench.training import load_checkpoint

FAST_GAN = ("hidden=16", "checkpoint_every=10")

DIVERGING_PLUGIN = """
from dataclasses import dataclass
import torch
from genbench import hookimpl
from genbench.config import TrainConfig
from genbench.model import GenerativeModel
from genbench.registry import ModelSpec

@dataclass
class Config(TrainConfig):
    blow_up_at: int = 3

class Model(GenerativeModel):
    def __init__(self, config, data):
        super().__init__()
        self.config, self.shape, self.steps = config, data.shape, 0
        self.w = torch.nn.Parameter(torch.zeros(data.shape))
        self.optimizers = {"w": torch.optim.SGD([self.w], lr=0.1)}

    def train_step(self, x, y):
        self.steps += 1
        loss = float("nan") if self.steps >= self.config.blow_up_at else 1.0
        return {"loss": loss}

    def sample(self, n, generator=None):
        return self.w.detach().expand(n, *self.shape).clone()

@hookimpl
def register_models(register):
    register(ModelSpec(name="nan-model", family="test", summary="diverges", paper="-",
                       factory="genbench_test_nan:Model", config=Config))
"""


def final_weights(record) -> dict[str, torch.Tensor]:
    return load_checkpoint(Path(record.run_dir) / "checkpoint.pt")["state"]["module"]


def test_interrupted_run_resumes_to_the_same_weights_as_an_uninterrupted_one(workdir):
    whole = api.run("gan", "ring8", steps=40, overrides=FAST_GAN, workdir=workdir / "a")

    def interrupt_at_25(step, total, losses):
        if step == 25:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        api.run("gan", "ring8", steps=40, overrides=FAST_GAN, workdir=workdir / "b",
                progress=interrupt_at_25)
    (stored,) = Store(workdir / "b").runs()
    assert stored.status == "interrupted"
    assert load_checkpoint(Path(stored.run_dir) / "checkpoint.pt")["step"] == 20

    resumed = api.run("gan", "ring8", steps=40, overrides=FAST_GAN, workdir=workdir / "b",
                      resume=True)
    assert resumed.run_id == stored.run_id
    assert resumed.status == "completed" and resumed.steps == 40
    a, b = final_weights(whole), final_weights(resumed)
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
    assert resumed.metric_map() == pytest.approx(whole.metric_map())


def test_killed_process_is_finished_by_resume(workdir):
    """SIGKILL mid-training (no chance to clean up), then `--resume` finishes the run."""
    cmd = [sys.executable, "-c", "from genbench.cli import main; main()", "run", "gan",
           "--dataset", "ring8", "--steps", "3000", "--set", "hidden=16",
           "--set", "checkpoint_every=50", "--workdir", str(workdir), "--format", "json"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    checkpoints = []
    while time.monotonic() < deadline and not checkpoints:
        time.sleep(0.2)
        checkpoints = list((workdir / "runs").glob("*/checkpoint.pt"))
        assert proc.poll() is None, proc.stderr.read().decode()
    assert checkpoints, "no checkpoint appeared"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    (killed,) = Store(workdir).runs()
    assert killed.status == "running"  # what a hard kill leaves; the store is still readable
    done_before = load_checkpoint(checkpoints[0])["step"]
    assert 0 < done_before < 3000

    result = subprocess.run(cmd + ["--resume"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)
    assert record["run_id"] == killed.run_id
    assert record["status"] == "completed" and record["steps"] == 3000
    assert {m["name"] for m in record["metrics"]} >= {"modes_covered", "FD[raw]"}
    history = load_checkpoint(checkpoints[0])["history"]["step"]
    assert history == list(range(1, 3001))  # nothing lost or repeated across the kill


def test_resume_with_nothing_to_resume_says_so(cli, workdir):
    code, _, err = cli("run", "gan", "--dataset", "ring8", "--steps", "5", "--workdir", workdir,
                       "--resume")
    assert code == 2
    assert "nothing to resume" in err and "without --resume" in err


def test_nan_loss_stops_the_run_and_records_it_as_diverged(cli, workdir, fake_plugin):
    fake_plugin("nan", DIVERGING_PLUGIN)
    ok = cli("run", "gan", "--dataset", "ring8", "--steps", "20", "--set", "hidden=8",
             "--workdir", workdir)
    assert ok[0] == 0, ok[2]
    board = workdir / "leaderboards" / "ring8.md"
    before = board.read_bytes()
    code, stdout, stderr = cli("run", "nan-model", "--dataset", "ring8", "--steps", "50",
                               "--workdir", workdir)
    assert code == 1
    assert "diverged" in stdout and "loss became nan at step 3" in stdout
    assert "internal error" not in stderr and "Traceback" not in stderr
    records = {r.model: r for r in Store(workdir).runs()}
    diverged = records["nan-model"]
    assert diverged.status == "diverged"
    assert diverged.message == "loss became nan at step 3"
    assert diverged.metrics == [] and diverged.steps == 2
    assert records["gan"].status == "completed" and records["gan"].metrics
    assert board.read_bytes() == before  # a failed run never touches the leaderboard


def test_checkpoint_loads_with_weights_only_and_rebuilds_the_model(workdir):
    record = api.run("gan", "ring8", steps=10, overrides=("hidden=8",), workdir=workdir)
    ckpt_path = Path(record.run_dir) / "checkpoint.pt"
    torch.load(ckpt_path, weights_only=True)  # must not need pickle of arbitrary objects
    again = api.evaluate(str(ckpt_path), workdir=workdir)
    assert again.run_id == record.run_id
    assert again.metric_map() == pytest.approx(record.metric_map())


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_ctrl_c_stops_after_the_step_saves_and_exits_130(workdir, sig):
    """SIGTERM (kill, `timeout`, a scheduler) too: it left the run "running" for ever."""
    cmd = [sys.executable, "-c", "from genbench.cli import main; main()", "run", "gan",
           "--dataset", "ring8", "--steps", "3000", "--set", "hidden=16",
           "--set", "checkpoint_every=1000", "--workdir", str(workdir), "--format", "json"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        time.sleep(0.2)
        runs = Store(workdir).runs() if (workdir / "genbench.sqlite").exists() else []
        if runs and (Path(runs[0].run_dir)).exists():
            break
    time.sleep(1.5)  # let training get under way
    proc.send_signal(sig)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    assert "--resume" in stderr and "Traceback" not in stderr
    (stopped,) = Store(workdir).runs()
    assert stopped.status == "interrupted"
    ckpt = load_checkpoint(Path(stopped.run_dir) / "checkpoint.pt")
    assert ckpt["step"] == stopped.steps and 0 < ckpt["step"] < 3000  # saved at the stop
    result = subprocess.run(cmd + ["--resume"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["status"] == "completed"


# --- uint8 data: converted a batch at a time ------------------------------------------------

def random_pixels(n: int, shape=(3, 6, 6), seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, *shape), generator=gen, dtype=torch.uint8)


@pytest.mark.parametrize("size", [None, 3, 12, 8])  # native, area, nearest, bilinear
def test_uint8_batches_equal_the_float_path(size):
    from genbench.data.base import TensorData
    from genbench.training import InMemoryBatches

    data = TensorData("u", "train", random_pixels(23), torch.arange(23), image_size=size)
    as_float = data.to_float()
    cpu = torch.device("cpu")
    kept = InMemoryBatches.from_data(data, 5, 3, cpu)
    reference = InMemoryBatches(as_float.x, as_float.y, 5, 3, cpu)
    assert kept.x.dtype == torch.uint8 and reference.x.dtype == torch.float32
    for step in range(13):  # several epochs of 4 batches
        (x, y), (x_ref, y_ref) = kept.batch(step), reference.batch(step)
        assert x.dtype == torch.float32 and torch.equal(x, x_ref) and torch.equal(y, y_ref)
        # The float path as it always was: v / 127.5 - 1 computed in float32, then resized.
        idx = reference.order.indices(step)
        whole = resize_images(data.x.to(torch.float32).div_(127.5).sub_(1.0), size)
        assert torch.equal(x, whole[idx])


def test_uint8_translation_batches_equal_the_float_path():
    from genbench.data.base import TensorData
    from genbench.training import InMemoryBatches

    cpu = torch.device("cpu")
    for paired, n_target in ((True, 17), (False, 11)):
        data = TensorData("t", "train", random_pixels(17, (1, 4, 4)), None,
                          target=random_pixels(n_target, (3, 4, 4), seed=1), image_size=8)
        as_float = data.to_float()
        kept = InMemoryBatches.from_data(data, 4, 0, cpu, paired=paired)
        reference = InMemoryBatches.from_data(as_float, 4, 0, cpu, paired=paired)
        for step in range(10):
            (a, b), (a_ref, b_ref) = kept.batch(step), reference.batch(step)
            assert a.shape == (4, 1, 8, 8) and b.shape == (4, 3, 8, 8)
            assert torch.equal(a, a_ref) and torch.equal(b, b_ref)


def test_data_stays_on_a_gpu_only_when_it_takes_at_most_half_its_free_memory(monkeypatch):
    from genbench import training

    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (1000, 4000))
    cuda, cpu = torch.device("cuda"), torch.device("cpu")
    assert training._home(cuda, [torch.zeros(500, dtype=torch.uint8), None]) == cuda
    assert training._home(cuda, [torch.zeros(400, dtype=torch.uint8),
                                 torch.zeros(101, dtype=torch.uint8)]) == cpu
    assert training._home(cpu, [torch.zeros(10 ** 6)]) == cpu


UINT8_PLUGIN = """
import torch
from genbench import hookimpl
from genbench.data.base import TensorData
from genbench.registry import DatasetSpec


def pixels(split):
    gen = torch.Generator().manual_seed(0 if split == "train" else 1)
    return torch.randint(0, 256, (40, 1, 12, 12), generator=gen, dtype=torch.uint8)


def load_kept(split="train", image_size=None, root=None, uint8=False):
    data = TensorData("bytes", split, pixels(split), image_size=image_size)
    return data if uint8 else data.to_float()


def load_float(split="train", image_size=None, root=None):
    return TensorData("bytes", split, pixels(split), image_size=image_size).to_float()


@hookimpl
def register_datasets(register):
    for name, loader in (("bytes-kept", "load_kept"), ("bytes-float", "load_float")):
        register(DatasetSpec(name=name, kind="images", shape=(1, 12, 12), summary="s",
                             source="s", loader=f"genbench_test_bytes:{loader}"))
"""


@pytest.mark.slow
def test_a_run_on_uint8_data_trains_exactly_as_on_float_data(workdir, fake_plugin):
    """dcgan at 32x32 on 12x12 images (bilinear upsampling per batch): the same weights."""
    fake_plugin("bytes", UINT8_PLUGIN)
    settings = dict(steps=4, overrides=("ngf=8", "ndf=8", "batch_size=8"), metrics=["prdc"],
                    extractor="raw")
    kept = api.run("dcgan", "bytes-kept", workdir=workdir / "a", **settings)
    floats = api.run("dcgan", "bytes-float", workdir=workdir / "b", **settings)
    assert kept.status == floats.status == "completed"
    a, b = final_weights(kept), final_weights(floats)
    assert a.keys() == b.keys() and all(torch.equal(a[key], b[key]) for key in a)
    assert kept.metric_map() == pytest.approx(floats.metric_map())


def test_resume_restores_the_gpu_random_states_of_the_gpus_that_are_here(monkeypatch):
    """A checkpoint written where two GPUs were visible resumes where one is (all states at
    once failed with "invalid device ordinal"). The CUDA calls are stood in for here."""
    from genbench import training

    restored = []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setattr(torch.cuda, "set_rng_state",
                        lambda state, device="cuda": restored.append((device, state)))

    def all_at_once(states):
        raise RuntimeError("CUDA error: invalid device ordinal")

    monkeypatch.setattr(torch.cuda, "set_rng_state_all", all_at_once)
    states = [torch.full((4,), i, dtype=torch.uint8) for i in range(2)]
    training._set_rng_state({"torch": torch.get_rng_state(), "cuda": states})
    assert [device for device, _ in restored] == [0] and torch.equal(restored[0][1], states[0])


def test_training_data_stays_on_the_gpu_counting_what_the_allocator_holds_free(monkeypatch):
    """Earlier runs of a sweep in one process leave cached blocks: free to this process,
    though the driver counts them as used. Stood in for: 1,000 bytes free on the card, 400
    more cached, 600 needed."""
    from genbench import training

    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (1000, 10_000))
    monkeypatch.setattr(torch.cuda, "memory_reserved", lambda device=None: 900)
    monkeypatch.setattr(torch.cuda, "memory_allocated", lambda device=None: 500)
    data = torch.zeros(150)  # 600 bytes
    assert training._home(torch.device("cuda"), [data, None]) == torch.device("cuda")
    monkeypatch.setattr(torch.cuda, "memory_reserved", lambda device=None: 500)
    assert training._home(torch.device("cuda"), [data]) == torch.device("cpu")
