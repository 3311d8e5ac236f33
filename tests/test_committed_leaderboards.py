"""The committed leaderboards/ are rendered from the committed records, never edited by hand:
importing leaderboards/records into a fresh store and rendering it gives the same files."""

from __future__ import annotations

from pathlib import Path

import pytest

BOARDS = Path(__file__).resolve().parents[1] / "leaderboards"


@pytest.mark.skipif(not (BOARDS / "records").is_dir(), reason="no committed records")
def test_committed_tables_match_their_records(cli, tmp_path):
    work, out = tmp_path / "work", tmp_path / "out"
    code, _, stderr = cli("runs", "import", BOARDS / "records", "--workdir", work)
    assert code == 0, stderr
    code, _, stderr = cli("leaderboard", "render", "--workdir", work, "--out", out, "--records")
    assert code == 0, stderr
    rendered = {p.name for p in out.iterdir() if p.suffix in (".md", ".csv")}
    committed = {p.name for p in BOARDS.iterdir() if p.suffix in (".md", ".csv")}
    assert committed - {"README.md"} == rendered
    for name in sorted(rendered):
        assert (out / name).read_text() == (BOARDS / name).read_text(), f"{name} is stale"
    assert sorted(p.name for p in (out / "records").iterdir()) == sorted(
        p.name for p in (BOARDS / "records").iterdir())
    assert (out / "index.html").is_file()
