"""Anomaly detection in the core: protocol datasets, AUROC/AUPRC, reconstruction scores for any
model that reconstructs, `--dataset NAME:all`, and the per-class leaderboard."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from conftest import cli_json
from test_vision_data import make_cifar, make_idx_dataset

from genbench.data.base import TensorData
from genbench.errors import GenbenchError
from genbench.evaluation import MetricContext, compute_anomaly
from genbench.plugins import get_registries


class FixedScores:
    """A 'model' whose anomaly scores are given."""

    def __init__(self, scores):
        self.scores = torch.as_tensor(scores, dtype=torch.float32)

    def anomaly_score(self, x):
        assert len(x) == len(self.scores)  # the whole split in one call
        return self.scores


def split(labels, normal=(0,)):
    y = torch.as_tensor(labels)
    return TensorData("toy", "test", torch.zeros(len(y), 1, 2, 2), y,
                      meta={"normal_classes": list(normal), "protocol": "oneclass"})


def auc(scores, labels, normal=(0,)):
    ctx = MetricContext(None, split(labels, normal), None, model=FixedScores(scores))
    return compute_anomaly(ctx), ctx


def test_auroc_and_auprc_match_hand_computation():
    # Anomalies (label 1) score 0.35 and 0.8; normals 0.1 and 0.4. Of the 4 (anomaly, normal)
    # pairs, 3 are ordered correctly: AUROC 3/4. Ranked by score: 0.8 (anomaly, precision 1),
    # 0.4 (normal), 0.35 (anomaly, precision 2/3): AP = (1 + 2/3) / 2 = 5/6.
    out, ctx = auc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1])
    assert out["auroc"] == pytest.approx(0.75)
    assert out["auprc"] == pytest.approx(5 / 6)
    assert ctx.notes["test_normal"] == 2 and ctx.notes["test_anomalous"] == 2
    assert ctx.notes["score"] == "the model's anomaly_score()"
    # Scores far outside [0, 1] (AnoGAN's losses are in the hundreds) rank the same way.
    big, _ = auc([100.0, 400.0, 350.0, 800.0], [0, 0, 1, 1])
    assert big == out


def test_perfect_and_random_scorers():
    labels = torch.arange(2000) % 10  # class 0 normal, every other class anomalous
    perfect, _ = auc((labels != 0).float(), labels)
    assert perfect == {"auroc": 1.0, "auprc": 1.0}
    inverted, _ = auc((labels == 0).float(), labels)
    assert inverted["auroc"] == 0.0
    noise = torch.rand(2000, generator=torch.Generator().manual_seed(0))
    random, _ = auc(noise, labels)
    assert abs(random["auroc"] - 0.5) < 0.05
    assert abs(random["auprc"] - 0.9) < 0.03  # AP of a random scorer: the anomalous fraction
    # Leave-one-out: classes 1-9 normal, class 0 the anomaly.
    out, ctx = auc((labels == 0).float(), labels, normal=range(1, 10))
    assert out["auroc"] == 1.0 and ctx.notes["test_anomalous"] == 200


def test_non_finite_scores_are_a_divergence():
    from genbench.errors import DivergedError

    with pytest.raises(DivergedError, match="NaN or infinite anomaly scores"):
        auc([0.1, float("nan")], [0, 1])


def test_protocol_datasets():
    datasets = get_registries().datasets
    train = datasets.get("digits-oneclass:3").load("train")
    test = datasets.get("digits-oneclass:3").load("test")
    assert set(train.y.tolist()) == {3} and len(test) == 360
    assert test.meta["normal_classes"] == [3] and test.meta["anomalous"] == 360 - 37
    out = datasets.get("digits-leaveout:3").load("train")
    assert 3 not in set(out.y.tolist()) and len(set(out.y.tolist())) == 9
    assert datasets.get("digits-leaveout:3").load("test").meta["anomalous"] == 37
    for bad in ("digits-oneclass:10", "digits-oneclass:x"):
        with pytest.raises(GenbenchError, match="class must be 0-9"):
            datasets.get(bad).load("train")
    with pytest.raises(GenbenchError, match="needs an argument"):
        datasets.get("digits-oneclass")


def test_mnist_oneclass_reads_torchvision_files(tmp_path):
    make_idx_dataset(tmp_path, "MNIST", sizes=(30, 20))
    spec = get_registries().datasets.get("mnist-oneclass:4")
    train, test = spec.load("train", root=tmp_path), spec.load("test", root=tmp_path)
    assert train.x.shape == (3, 1, 28, 28) and set(train.y.tolist()) == {4}
    assert len(test) == 20 and test.meta["normal"] == 2
    leave = get_registries().datasets.get("mnist-leaveout:4").load("train", root=tmp_path)
    assert len(leave) == 27


def test_cifar10_oneclass_reads_the_python_batches_and_runs(tmp_path, accept_fake_cifar, cli,
                                                          workdir):
    # The fake copy's labels: train batch k holds classes k..k+3, the test batch 5..9.
    make_cifar(tmp_path)
    accept_fake_cifar(tmp_path / "cifar-10-batches-py")
    spec = get_registries().datasets.get("cifar10-oneclass:5")
    train, test = spec.load("train", root=tmp_path), spec.load("test", root=tmp_path)
    assert train.x.shape == (3, 3, 32, 32) and set(train.y.tolist()) == {5}
    assert test.y.tolist() == [5, 6, 7, 8, 9] and test.meta["normal_classes"] == [5]
    record = cli_json(cli, "run", "ae", "--dataset", "cifar10-oneclass:5", "--data-root",
                      str(tmp_path), "--steps", "3", "--bootstrap", "0", "--workdir", workdir)
    assert record["status"] == "completed"
    assert (record["evaluation"]["test_normal"], record["evaluation"]["test_anomalous"]) == (1, 4)
    assert {m["name"] for m in record["metrics"]} == {"auroc", "auprc"}
    # Pictures of test images come from the same --data-root, at run time and afterwards.
    assert (Path(record["run_dir"]) / "reconstructions.png").is_file()
    code, stdout, stderr = cli("samples", record["run_id"], "--data-root", str(tmp_path),
                               "--out", str(tmp_path / "pics"), "--workdir", str(workdir))
    assert code == 0, stderr
    assert (tmp_path / "pics" / "reconstructions.png").is_file()


def test_autoencoders_are_scored_by_reconstruction_and_gans_refused(cli, workdir):
    record = cli_json(cli, "run", "ae", "--dataset", "digits-oneclass:1", "--steps", "30",
                      "--workdir", workdir)
    names = {m["name"] for m in record["metrics"]}
    assert names == {"auroc", "auprc"}  # sample metrics do not apply to a protocol's test set
    assert record["evaluation"]["score"].startswith("reconstruction error")
    assert record["evaluation"]["test_anomalous"] == 324
    assert "never used" in record["evaluation"]["selection"]
    assert (workdir / "runs" / record["run_id"] / "anomaly_scores.png").is_file()
    code, _, stderr = cli("run", "gan", "--dataset", "digits-oneclass:1", "--workdir", workdir)
    assert code == 2 and "cannot score anomalies" in stderr and "Traceback" not in stderr


def test_every_class_and_the_per_class_board(cli, workdir):
    code, stdout, stderr = cli("run", "ae", "--dataset", "digits-oneclass:all", "--steps", "5",
                               "--bootstrap", "0", "--workdir", workdir)
    assert code == 0, stderr
    assert "every class" in stdout and "10/10" in stdout
    board = (workdir / "leaderboards" / "digits-oneclass.md").read_text()
    assert "| model " in board and "Deep SVDD" in board and "9: normal [9]" in board
    row = next(line for line in board.splitlines() if line.startswith("| ae "))
    assert len(row.split("|")) == 2 + 4 + 10 + 1  # identity, seeds, classes 0-9, mean
    csv = (workdir / "leaderboards" / "digits-oneclass.csv").read_text()
    assert csv.count("\nae,quick,steps=5,auroc,") == 11  # 10 classes and the mean
    code, _, stderr = cli("run", "ae", "--dataset", "digits:all", "--workdir", workdir)
    assert code == 2 and "no classes to run" in stderr


def test_the_published_row_says_how_far_it_is_from_the_board():
    from genbench.results.leaderboard import published_caveat

    assert published_caveat("mnist-oneclass") == "another budget"
    assert published_caveat("digits-oneclass") == "another dataset and budget"
    assert published_caveat("cifar10-oneclass") == "another dataset and budget"
