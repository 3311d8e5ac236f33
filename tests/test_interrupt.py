"""Ctrl-C stops every long command promptly and leaves the store as it was (issue 15, item 5).

`evaluate` went on for 12 s after Ctrl-C, exited 0 and overwrote the stored metrics: started as
a shell's background job, the process inherited SIGINT ignored, and only training installed a
handler of its own. The command runs here as a real process started the same way."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import cli_json


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.slow
def test_ctrl_c_during_evaluate_stops_it_and_stores_nothing(cli, tmp_path):
    work = tmp_path / "work"
    record = cli_json(cli, "run", "gan", "--dataset", "ring8", "--steps", "3", "--set",
                      "hidden=8", "--workdir", work)
    store, saved = work / "genbench.sqlite", Path(record["run_dir"]) / "record.json"
    before = digest(store), digest(saved)
    env = {**os.environ, "GENBENCH_PROGRESS_SECONDS": "0", "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "genbench", "evaluate", record["run_id"], "--num-samples",
         "200000", "--workdir", str(work)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        # As a shell starts a background job: SIGINT ignored.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    try:
        for line in proc.stdout:  # wait until it is scoring
            if line.startswith("evaluating "):
                break
        else:
            pytest.fail(f"evaluate ended before scoring: {proc.stderr.read()}")
        sent = time.monotonic()
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130, stderr
    assert time.monotonic() - sent < 20, "Ctrl-C must stop it promptly"
    assert "interrupted: nothing was stored" in stderr and "Traceback" not in stderr
    assert (digest(store), digest(saved)) == before
