"""A run's record.json always says what the store says (issue 15, item 3): `evaluate` used to
update the store and leave the file with the old metrics."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import cli_json


def test_evaluate_rewrites_the_record_file(cli, workdir):
    record = cli_json(cli, "run", "gan", "--dataset", "ring8", "--steps", "3", "--set",
                      "hidden=8", "--num-samples", "200", "--bootstrap", "0", "--workdir",
                      workdir)
    path = Path(record["run_dir"]) / "record.json"
    assert {m["n_fake"] for m in json.loads(path.read_text())["metrics"]} == {200}
    cli_json(cli, "evaluate", record["run_id"], "--num-samples", "400", "--workdir", workdir)
    stored = cli_json(cli, "runs", "show", record["run_id"], "--workdir", workdir)
    on_disk = json.loads(path.read_text())
    assert {m["n_fake"] for m in on_disk["metrics"]} == {400}
    assert on_disk["metrics"] == stored["metrics"] and on_disk["updated"] == stored["updated"]
    assert on_disk["run_dir"] == f"runs/{record['run_id']}"
