"""A render removes only files a render wrote (issue 15, item 2), and its default folder is the
workdir's, as for run and sweep.

`genbench leaderboard render` with no arguments once deleted 639 committed report pictures and
records of the repository it was run in, and rewrote 17 tables: its --out defaulted to
./leaderboards and it removed whatever it took for stale there. `run --workdir ''` wrote the
store, runs and caches into the current folder.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

from genbench.results.publish import render, write_records
from genbench.results.record import MetricValue, RunRecord
from genbench.results.report import write_report
from genbench.results.store import Store
from genbench.results.written import MANIFEST


def record(run_id: str, fd: float) -> RunRecord:
    return RunRecord(run_id=run_id, model=run_id.split("-")[0], dataset="ring8", split="test",
                     profile="quick", seed=0, config={"steps": 1}, status="completed",
                     created=run_id, metrics=[MetricValue("FD[raw]", fd, False, "fd", "raw",
                                                          10, 10)])


def snapshot(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def committed_like(folder: Path) -> dict[str, str]:
    """A folder like the repository's leaderboards/: tables, records and report pictures of
    runs no store here knows, written before any manifest existed."""
    (folder / "records").mkdir(parents=True)
    (folder / "report" / "thumbs").mkdir(parents=True)
    (folder / "ring8.md").write_text("# committed board\n")
    (folder / "records" / "old-ring8-s0.json").write_text("{}\n")
    (folder / "report" / "thumbs" / "old-ring8-s0.png").write_bytes(b"\x89PNG committed")
    return snapshot(folder)


def test_render_without_out_writes_into_the_workdir_and_touches_nothing_here(
        tmp_path, cli, monkeypatch):
    monkeypatch.chdir(tmp_path)
    before = committed_like(tmp_path / "leaderboards")
    work = tmp_path / "work"
    work.mkdir()
    Store(work).save(record("gan-ring8-s0", 1.0))
    code, out, err = cli("leaderboard", "render", "--workdir", str(work), "--records")
    assert code == 0, err
    assert snapshot(tmp_path / "leaderboards") == before
    assert (work / "leaderboards" / "ring8.md").is_file()
    assert (work / "leaderboards" / "records" / "gan-ring8-s0.json").is_file()
    assert (work / "leaderboards" / "index.html").is_file()


def test_files_a_render_did_not_write_are_never_removed(tmp_path):
    out = tmp_path / "boards"
    before = committed_like(out)
    records = [record("gan-ring8-s0", 1.0)]
    render(records, out, report=True)
    write_records(records, out)
    after = snapshot(out)
    for name, digest in before.items():
        if name != "ring8.md":  # a table of the same dataset is the render's to replace
            assert after[name] == digest, f"{name} was removed or changed"
    assert "records/gan-ring8-s0.json" in after


def test_files_a_render_wrote_go_when_their_run_leaves_the_store_unless_edited(tmp_path):
    out = tmp_path / "boards"
    both = [record("gan-ring8-s0", 1.0), record("wgan-ring8-s0", 2.0)]
    write_records(both, out)
    written = json.loads((out / MANIFEST).read_text())["files"]
    assert set(written) == {"records/gan-ring8-s0.json", "records/wgan-ring8-s0.json"}
    write_records(both[:1], out)  # wgan left the store: the render's own record of it goes
    assert not (out / "records" / "wgan-ring8-s0.json").exists()
    # A record someone edited after the render wrote it is theirs now: it stays.
    write_records(both, out)
    edited = out / "records" / "wgan-ring8-s0.json"
    edited.write_text(edited.read_text() + " ")
    write_records(both[:1], out)
    assert edited.is_file()


def test_report_pictures_follow_the_same_rule(tmp_path):
    out = tmp_path / "boards"
    mine = out / "report" / "thumbs" / "mine.png"
    mine.parent.mkdir(parents=True)
    mine.write_bytes(b"\x89PNG a person's picture")
    run_dir = tmp_path / "runs" / "gan-ring8-s0"
    run_dir.mkdir(parents=True)
    from PIL import Image

    Image.new("RGB", (40, 40), (200, 10, 10)).save(run_dir / "samples.png")
    rec = record("gan-ring8-s0", 1.0)
    rec.run_dir = str(run_dir)
    write_report([rec], out)
    shown = [p for p in (out / "report").rglob("*.png") if p != mine]
    assert shown, "the run's thumbnail was written"
    write_report([], out)  # the run left the store: its thumbnail goes, the person's stays
    assert mine.is_file() and not any(p.exists() for p in shown)


def test_an_empty_workdir_is_refused(tmp_path, cli, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = cli("run", "gan", "--dataset", "ring8", "--steps", "2", "--workdir", "")
    assert code == 2
    text = " ".join(re.sub("[│╭╮╰╯─]", " ", err).split())  # typer's usage-error panel
    assert "--workdir" in text and "must name a folder" in text
    assert list(tmp_path.iterdir()) == []
