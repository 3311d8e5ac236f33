"""The GPU path (issue 16), checked on the CPU: losses read every ``log_every`` steps in one
transfer without changing the history or the NaN guard, ``--precision bf16``,
``--channels-last``, ``--compile`` and fused optimizers; each option trains, resumes exactly,
is recorded and hashed (the defaults keep the old hash), and bad values fail in one line.

torch.compile runs with the ``aot_eager`` backend here (forward and backward graphs traced by
AOTAutograd, no code generated, so no C++ compiler and no minutes of compiling); the CLI uses
inductor."""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import pytest
import torch

from genbench import api, speed, training
from genbench.config import config_dict, resolve_config
from genbench.errors import GenbenchError
from genbench.model import DataInfo, fit_optimizers
from genbench.plugins import get_registries
from genbench.results.leaderboard import summary_frame
from genbench.results.store import Store
from genbench.speed import SpeedOptions
from genbench.training import load_checkpoint

CPU = torch.device("cpu")
COMPILED = SpeedOptions(channels_last=True, compile="default", log_every=5)
# Scoring kept cheap: raw features, a few hundred samples.
CHEAP = {"extractor": "raw", "metrics": ["fd"], "num_samples": 200}


@pytest.fixture(autouse=True)
def traced_not_generated(monkeypatch):
    monkeypatch.setattr(speed, "COMPILE_BACKEND", "aot_eager")


def fit(model: str, dataset: str, steps: int, options: SpeedOptions, overrides=(), *,
        tmp: Path, progress=None):
    """``api.run``'s training part alone (no store, no scoring): (model, outcome)."""
    registries = get_registries()
    spec, data_spec = registries.models.get(model), registries.datasets.get(dataset)
    config = resolve_config(spec, "quick", data_spec.kind, steps, overrides)
    training.seed_everything(0)
    data = data_spec.load("train", image_size=api._train_size(config), uint8=True)
    info = DataInfo(data_spec.kind, data.example_shape, data_spec.num_classes,
                    data.target_shape)
    net = api.build_model(spec, config, info, CPU)
    compiled = speed.prepare(net, options)
    batches = training.InMemoryBatches.from_data(data, config.batch_size, 0, CPU,
                                                 channels_last=options.channels_last)
    outcome = training.train(net, batches, config, checkpoint=tmp / "checkpoint.pt", meta={},
                             progress=progress, log_every=options.log_interval(CPU),
                             precision=options.precision, compiled=bool(compiled))
    return net, outcome


def weights(state: dict) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in state.items()}


def same_weights(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def mean(values: list[float]) -> float:
    return sum(values) / len(values)


# --- each option trains ------------------------------------------------------------------------

@pytest.mark.parametrize("options", [
    SpeedOptions(),
    SpeedOptions(precision="bf16"),
    SpeedOptions(channels_last=True),
    SpeedOptions(compile="default"),
    SpeedOptions(precision="bf16", channels_last=True, compile="default", log_every=8),
], ids=["defaults", "bf16", "channels_last", "compile", "all"])
def test_each_option_trains_a_conv_autoencoder(options, tmp_path, monkeypatch):
    graphs, dtypes = [], set()
    aot_eager = torch._dynamo.lookup_backend("aot_eager")

    def counting(gm, example_inputs):
        graphs.append(gm)
        return aot_eager(gm, example_inputs)

    monkeypatch.setattr(speed, "COMPILE_BACKEND", counting)
    handle = torch.nn.modules.module.register_module_forward_hook(
        lambda m, args, out: dtypes.add(out.dtype) if isinstance(m, torch.nn.Conv2d) else None)
    try:
        net, outcome = fit("ae", "digits", 40, options, tmp=tmp_path)
    finally:
        handle.remove()
    losses = outcome.history["loss"]
    assert outcome.status == "completed" and len(losses) == 40
    assert all(math.isfinite(v) for v in losses)
    assert mean(losses[-5:]) < 0.8 * mean(losses[:5])
    conv = next(m for m in net.modules() if isinstance(m, torch.nn.Conv2d) and m.in_channels > 1)
    assert conv.weight.is_contiguous(memory_format=torch.channels_last) == options.channels_last
    assert bool(graphs) == bool(options.compile)
    if not options.compile:  # compiled graphs are not seen by module hooks
        assert dtypes == {torch.bfloat16 if options.precision == "bf16" else torch.float32}


def test_channels_last_leaves_models_without_4d_tensors_alone(tmp_path):
    net, outcome = fit("gan", "ring8", 10, SpeedOptions(channels_last=True),
                       ("hidden=16",), tmp=tmp_path)
    assert outcome.status == "completed"
    assert all(p.is_contiguous() for p in net.parameters())


# Every model family (a representative of each network shape): a few steps under bf16.
@pytest.mark.parametrize("model, dataset, overrides", [
    ("wgan-gp", "ring8", ("hidden=16",)), ("sgan", "digits", ("ngf=8", "ndf=8")),
    ("vae", "digits", ()), ("cvae", "digits", ()), ("pixelcnn", "digits", ()),
    ("pixelrnn", "digits", ()),
    ("vq-vae", "digits", ()), ("gmm", "ring8", ("components=8",)),
    ("pix2pix", "edges2digits", ("ngf=8",)),
    ("ganomaly", "digits", ("ngf=8", "ndf=8")), ("f-anogan", "digits", ("ngf=8", "ndf=8")),
])
def test_every_family_trains_under_bf16(model, dataset, overrides, tmp_path):
    _, outcome = fit(model, dataset, 4, SpeedOptions(precision="bf16", compile="default"),
                     overrides + ("batch_size=16",), tmp=tmp_path)
    assert outcome.status == "completed", outcome.message
    assert all(math.isfinite(v) for key, values in outcome.history.items() for v in values)


# --- the same result, however the losses are read ----------------------------------------------

def test_the_same_seed_gives_the_same_result_twice_with_the_options(tmp_path):
    first, a = fit("ae", "digits", 15, COMPILED, tmp=tmp_path)
    second, b = fit("ae", "digits", 15, COMPILED, tmp=tmp_path)
    assert a.history == b.history
    assert same_weights(weights(first.state_dict()), weights(second.state_dict()))


def test_reading_every_n_steps_keeps_every_steps_losses_and_the_same_training(tmp_path):
    runs = {}
    for every in (1, 7, 1000):
        seen: list[int] = []
        net, outcome = fit("wgan", "ring8", 30, SpeedOptions(log_every=every),
                           ("hidden=16", "checkpoint_every=10"),
                           progress=lambda step, total, losses, seen=seen: seen.append(step),
                           tmp=tmp_path)
        runs[every] = (weights(net.state_dict()), outcome.history, seen)
    (w1, h1, seen1), (w7, h7, seen7), (wall, hall, seen_all) = runs.values()
    assert h1["step"] == list(range(1, 31)) and h1 == h7 == hall
    assert same_weights(w1, w7) and same_weights(w1, wall)
    # progress hears the last step of each read: every log_every steps and at each checkpoint
    assert seen1 == list(range(1, 31))
    assert seen7 == [7, 10, 14, 20, 21, 28, 30]
    assert seen_all == [10, 20, 30]


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
        self.config, self.shape = config, data.shape
        self.w = torch.nn.Parameter(torch.zeros(data.shape))
        self.register_buffer("steps_done", torch.zeros((), dtype=torch.long))
        self.optimizers = {"w": torch.optim.SGD([self.w], lr=0.1)}

    def train_step(self, x, y):
        step = self.count_step()
        loss = (self.w - x.mean(0)).pow(2).mean()
        self.optimizers["w"].zero_grad()
        loss.backward()
        self.optimizers["w"].step()
        bad = torch.tensor(float("nan") if step >= self.config.blow_up_at else 0.0)
        return {"loss": loss.detach() + bad, "fine": 1.0}

    def sample(self, n, generator=None):
        return self.w.detach().expand(n, *self.shape).clone()

@hookimpl
def register_models(register):
    register(ModelSpec(name="nan-model", family="test", summary="diverges", paper="-",
                       factory="genbench_test_nan:Model", config=Config))
"""


@pytest.mark.parametrize("blow_up_at", [5, 7])
def test_a_nan_read_late_is_reported_at_its_step_and_never_checkpointed(blow_up_at, workdir,
                                                                        fake_plugin):
    fake_plugin("nan", DIVERGING_PLUGIN)
    record = api.run("nan-model", "ring8", steps=30, workdir=workdir, log_every=10,
                     overrides=(f"blow_up_at={blow_up_at}", "checkpoint_every=5"), **CHEAP)
    assert record.status == "diverged"
    assert record.message == f"loss became nan at step {blow_up_at}"
    assert record.steps == blow_up_at - 1
    checkpoint = Path(record.run_dir) / "checkpoint.pt"
    if blow_up_at == 5:  # the save due at step 5 had the NaN pending: none was made
        assert not checkpoint.exists()
    else:
        saved = load_checkpoint(checkpoint)
        assert saved["step"] == 5 and saved["history"]["step"] == [1, 2, 3, 4, 5]
        assert all(math.isfinite(v) for v in saved["history"]["loss"])


# --- resume, records, hashes --------------------------------------------------------------------

def test_a_run_with_the_options_resumes_to_the_uninterrupted_result(workdir):
    kwargs = dict(steps=30, overrides=("checkpoint_every=10",), precision="fp32",
                  channels_last=True, compile=True, log_every=5, **CHEAP)
    whole = api.run("ae", "digits", workdir=workdir / "a", **kwargs)

    def interrupt_at_25(step, total, losses):
        if step == 25:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        api.run("ae", "digits", workdir=workdir / "b", progress=interrupt_at_25, **kwargs)
    (stored,) = Store(workdir / "b").runs()
    assert stored.status == "interrupted"
    assert load_checkpoint(Path(stored.run_dir) / "checkpoint.pt")["step"] == 20
    resumed = api.run("ae", "digits", workdir=workdir / "b", resume=True, **kwargs)
    assert resumed.run_id == stored.run_id and resumed.status == "completed"
    a, b = (load_checkpoint(Path(r.run_dir) / "checkpoint.pt") for r in (whole, resumed))
    assert same_weights(a["state"]["module"], b["state"]["module"])
    assert a["history"] == b["history"]
    assert resumed.metric_map() == pytest.approx(whole.metric_map())
    assert whole.overrides == ["steps=30", "checkpoint_every=10", "channels_last=true",
                               "compile=default"]
    assert whole.training == {"precision": "fp32", "channels_last": True,
                              "compile": "default", "log_every": 5,
                              "fused_optimizers": False}


def test_the_host_step_counter_follows_a_resume(workdir):
    """wgan updates G every 5th step, counted on the host: a resume from step 21 must go on
    counting from 21, as the uninterrupted run does."""
    kwargs = dict(steps=30, overrides=("hidden=16", "checkpoint_every=7"), log_every=5,
                  **CHEAP)
    whole = api.run("wgan", "ring8", workdir=workdir / "a", **kwargs)

    def interrupt_at_25(step, total, losses):
        if step == 25:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        api.run("wgan", "ring8", workdir=workdir / "b", progress=interrupt_at_25, **kwargs)
    resumed = api.run("wgan", "ring8", workdir=workdir / "b", resume=True, **kwargs)
    a, b = (load_checkpoint(Path(r.run_dir) / "checkpoint.pt") for r in (whole, resumed))
    assert same_weights(a["state"]["module"], b["state"]["module"])


def legacy_hash(model, dataset, profile, config) -> str:
    """config_hash as it was before the speed options: committed records hold these."""
    blob = json.dumps([model, dataset, profile, config], sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def test_default_options_keep_the_old_hash_and_others_make_new_ones():
    spec = get_registries().models.get("dcgan")
    config = config_dict(resolve_config(spec, "quick", "images"))
    old = legacy_hash("dcgan", "digits", "quick", config)
    assert api.config_hash("dcgan", "digits", "quick", config) == old
    assert api.config_hash("dcgan", "digits", "quick", config,
                           SpeedOptions(log_every=50).hashed()) == old
    others = [SpeedOptions(precision="bf16"), SpeedOptions(channels_last=True),
              SpeedOptions(compile="default"), SpeedOptions(compile="reduce-overhead")]
    hashes = {api.config_hash("dcgan", "digits", "quick", config, o.hashed()) for o in others}
    assert len(hashes) == len(others) and old not in hashes
    assert SpeedOptions().settings() == []
    assert SpeedOptions("bf16", True, "max-autotune").settings() == [
        "precision=bf16", "channels_last=true", "compile=max-autotune"]


def test_sweeps_and_leaderboards_keep_bf16_runs_apart(workdir):
    from genbench import sweep as sweeps

    fp32 = api.run("gan", "ring8", steps=5, overrides=("hidden=8",), workdir=workdir, **CHEAP)
    blocks = sweeps.make_blocks(models=["gan"], datasets=["ring8"], steps=5,
                                overrides=("hidden=8",))
    (same,) = sweeps.plan(sweeps.expand(blocks), workdir)
    (other,) = sweeps.plan(sweeps.expand(blocks, SpeedOptions(precision="bf16")), workdir)
    assert same.action == "skip" and same.entry.config_hash == fp32.config_hash
    assert other.action == "run" and other.entry.config_hash != fp32.config_hash
    assert other.entry.settings == ["steps=5", "hidden=8", "precision=bf16"]
    (done,) = sweeps.execute([other], workdir=workdir).outcomes
    assert done.status == "completed"
    bf16 = Store(workdir).get(done.run_id)
    assert bf16.config_hash == other.entry.config_hash
    assert bf16.overrides == other.entry.settings
    frame, _ = summary_frame(Store(workdir).runs())
    assert sorted(frame["settings"]) == ["steps=5 hidden=8", "steps=5 hidden=8 precision=bf16"]
    assert "precision=bf16" in (workdir / "leaderboards" / "ring8.md").read_text()


# --- refusals --------------------------------------------------------------------------------

@pytest.mark.parametrize("command", ["run", "sweep"])
@pytest.mark.parametrize("option, message", [
    (("--precision", "fp16x"), "--precision fp16x: choose fp32 or bf16"),
    (("--compile-mode", "fastest"), "--compile-mode fastest: choose one of default"),
    (("--log-every", "0"), "--log-every 0: must be a whole number >= 1"),
])
def test_bad_values_fail_in_one_line_before_anything_runs(command, option, message, cli,
                                                          workdir):
    target = ("gan", "--dataset") if command == "run" else ("--model", "gan", "--dataset")
    code, _, stderr = cli(command, *target, "ring8", "--steps", "3", *option,
                          "--workdir", workdir)
    assert code == 2
    assert message in stderr and len(stderr.strip().splitlines()) == 1
    assert not (workdir / "runs").exists() or not any((workdir / "runs").iterdir())


def test_a_failed_compile_is_one_line_and_stores_nothing(cli, workdir, monkeypatch):
    def broken(gm, example_inputs):
        raise RuntimeError("no C++ compiler in this test")

    monkeypatch.setattr(speed, "COMPILE_BACKEND", broken)
    code, _, stderr = cli("run", "gan", "--dataset", "ring8", "--steps", "3", "--compile",
                          "--workdir", workdir)
    assert code == 2
    assert len(stderr.strip().splitlines()) == 1
    assert "--compile: torch.compile failed on the first training step" in stderr
    assert "no C++ compiler in this test" in stderr
    assert Store(workdir).runs() == []
    assert not any((workdir / "runs").iterdir())


def test_bf16_is_refused_on_a_gpu_without_it(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda *a, **k: "Old GPU")
    with pytest.raises(GenbenchError, match="--precision bf16: Old GPU cannot compute in "
                                            "bfloat16; use --precision fp32"):
        SpeedOptions(precision="bf16").check_device(torch.device("cuda"))
    SpeedOptions(precision="bf16").check_device(CPU)  # CPUs autocast to bfloat16


def test_compile_on_the_cpu_needs_a_cpp_compiler(monkeypatch):
    monkeypatch.setattr(speed, "COMPILE_BACKEND", "inductor")
    monkeypatch.setattr(speed.shutil, "which", lambda name: None)
    monkeypatch.delenv("CXX", raising=False)
    with pytest.raises(GenbenchError, match="needs a C\\+\\+ compiler"):
        SpeedOptions(compile="default").check_device(CPU)


# --- fused optimizers ----------------------------------------------------------------------------

def test_optimizers_switch_to_fused_kernels_and_back_with_their_checkpoints(monkeypatch):
    """On CUDA the optimizers run fused; here the CPU stands in for CUDA (torch has fused
    CPU kernels too), so the switch, the steps and a checkpoint's way back are real."""
    import genbench.model

    spec = get_registries().models.get("gan")
    config = resolve_config(spec, "quick", "points", 5, ("hidden=8",))
    info = DataInfo("points", (2,), 0)

    def model():
        torch.manual_seed(0)
        return api.build_model(spec, config, info, CPU)

    x = torch.randn(64, 2)
    plain = model()
    assert all(g["fused"] is None for o in plain.optimizers.values() for g in o.param_groups)
    monkeypatch.setattr(genbench.model, "_fusable", lambda p: True)
    fused = model()
    groups = [g for o in fused.optimizers.values() for g in o.param_groups]
    assert all(g["fused"] is True and g["foreach"] is None for g in groups)
    for _ in range(3):
        losses = fused.train_step(x, None)
    assert all(math.isfinite(float(v)) for v in losses.values())
    state = fused.training_state()
    monkeypatch.setattr(genbench.model, "_fusable", lambda p: False)
    back = model()
    back.load_training_state(state)  # the checkpoint says fused; this "device" is not
    groups = [g for o in back.optimizers.values() for g in o.param_groups]
    assert all(g["fused"] is None for g in groups)
    steps = [s["step"] for o in back.optimizers.values() for s in o.state.values()]
    assert steps and all(s.device.type == "cpu" and float(s) == 3 for s in steps)
    back.train_step(x, None)
    fit_optimizers(back.optimizers.values())  # idempotent
    assert back.step_count == 4 and int(back.steps_done) == 4
