"""The static HTML report, read back as HTML and files (the browser test is beside it)."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from genbench.results.record import MetricValue, RunRecord
from genbench.results.report import THUMB_PX, write_report

ODD = "paired-folder:/data/x"  # a dataset name that is no file name


def _png(path: Path, size: tuple[int, int], seed: int) -> None:
    """A smooth picture, different per seed (noise would not shrink like real plots do)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    y, x = np.mgrid[0:size[1], 0:size[0]]
    pixels = np.stack([x * 255 // size[0], y * 255 // size[1], np.full_like(x, seed * 37 % 256)],
                      axis=-1).astype(np.uint8)
    Image.fromarray(pixels).save(path)


def _metric(name: str, value: float, higher: bool) -> MetricValue:
    return MetricValue(name=name, value=value, higher_is_better=higher,
                       metric=name.split("[")[0], n_real=100, n_fake=100,
                       extractor="raw" if "[raw]" in name else None)


def make_report_records(root: Path) -> list[RunRecord]:
    """ring8: gan and wgan over three seeds with precision/recall, one run evaluated during
    training, one without FD; the odd-named dataset: two translation models, one of them with
    its run folder gone, and a failed run."""
    records = []
    for i, (model, seed) in enumerate((m, s) for m in ("gan", "wgan") for s in range(3)):
        run_id = f"{model}-ring8-s{seed}-20260101-00000{i}-ab{i:02d}"
        metrics = [_metric("modes_covered", 8 - i, True),
                   _metric("precision[raw]", 0.5 + i / 20, True),
                   _metric("recall[raw]", 0.9 - i / 10, True),
                   _metric("FD[raw]", round(0.1 * (i * 2 % 5 + 1), 3), False)]
        if (model, seed) == ("wgan", 2):
            metrics = [m for m in metrics if m.name != "FD[raw]"]  # a blank cell
        record = RunRecord(run_id=run_id, model=model, dataset="ring8", split="test",
                           profile="quick", seed=seed, config={}, status="completed", steps=100,
                           wall_time=10.0 + 40 * i, device="cpu",
                           run_dir=str(root / "runs" / run_id), metrics=metrics)
        if i == 0:
            record.trajectory = [{"step": s, "seconds": 2.0 * s, "metrics": {"modes_covered": s}}
                                 for s in (1, 2, 4)]
        records.append(record)
        _png(root / "runs" / run_id / "samples.png", (200, 200), i)
        _png(root / "runs" / run_id / "losses.png", (770, 385), 100 + i)
    for i, (model, seed) in enumerate((("pix2pix", 0), ("pix2pix", 1), ("copy", 0))):
        run_id = f"{model}-{ODD}-s{seed}-20260101-00000{i}-cd{i:02d}"
        records.append(RunRecord(
            run_id=run_id, model=model, dataset=ODD, split="test", profile="quick", seed=seed,
            config={}, status="completed", overrides=["steps=50"], wall_time=5.0 + i,
            device="cpu", run_dir=str(root / "runs" / f"t{i}"),
            metrics=[_metric("FD[raw]", 3.0 - i, False)]))
        if model != "copy":  # the copy run's folder is gone
            _png(root / "runs" / f"t{i}" / "translations.png", (300, 100), 200 + i)
    records.append(RunRecord(run_id="gan-ring8-s3-failed", model="gan", dataset="ring8",
                             split="test", profile="quick", seed=3, config={}, status="failed",
                             message="loss became <NaN>", run_dir=str(root / "nowhere")))
    return records


class Tables(HTMLParser):
    """Every table's class and its body rows (cell text, data-sort), plus all src/href links."""

    def __init__(self):
        super().__init__()
        self.tables: list[tuple[str, list[list[tuple[str, str | None]]]]] = []
        self.links: list[str] = []
        self._cell: list | None = None
        self._in_body = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.links += [attrs[k] for k in ("src", "href") if k in attrs]
        if tag == "table":
            self.tables.append((attrs.get("class", ""), []))
        elif tag == "tbody":
            self._in_body = True
        elif tag == "tr" and self._in_body:
            self.tables[-1][1].append([])
        elif tag == "td" and self._in_body:
            self._cell = ["", attrs.get("data-sort")]

    def handle_endtag(self, tag):
        if tag == "tbody":
            self._in_body = False
        elif tag == "td" and self._cell is not None:
            self.tables[-1][1][-1].append((self._cell[0].strip(), self._cell[1]))
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell[0] += data


def parse(index: Path) -> Tables:
    parser = Tables()
    parser.feed(index.read_text(encoding="utf-8"))
    return parser


def render(root: Path) -> tuple[Path, list[RunRecord]]:
    records = make_report_records(root / "work")
    return write_report(records, root / "leaderboards"), records


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> tuple[Path, list[RunRecord]]:
    """One report for the tests that only read it (matplotlib takes a second or two)."""
    return render(tmp_path_factory.mktemp("report"))


def test_tables_hold_one_row_per_model_and_per_run(report):
    index, _ = report
    tables = parse(index).tables
    # datasets sorted: the odd one ("paired-...") before ring8
    assert [(kind, len(rows)) for kind, rows in tables] == [
        ("sortable summary", 2), ("sortable runs", 3), ("sortable summary", 2),
        ("sortable runs", 6)]
    ring8_runs = tables[3][1]
    assert [row[5][1] for row in ring8_runs] == ["0.0", "1.0", "2.0", "0.0", "1.0", "2.0"]
    fd = [row[-4] for row in ring8_runs]  # FD[raw], then wall time, device, run
    assert sorted(v for v, _ in fd if v) == ["0.1", "0.2", "0.3", "0.4", "0.5"]
    assert ("", "") in fd  # wgan seed 2 has no FD: a blank cell that sorts last
    text = index.read_text(encoding="utf-8")
    assert "FD[raw] ↓" in text.replace("<wbr>", "") and "modes_covered ↑" in text
    assert "7 ± 2.5" in text  # gan's modes over seeds: mean 7, t-interval 4.30 / sqrt(3)


def test_links_are_relative_and_resolve(report):
    index, _ = report
    links = parse(index).links
    assert links
    for link in links:
        assert "://" not in link and not link.startswith("/"), link
        if not link.startswith("#"):
            assert (index.parent / link).is_file(), link
    assert not re.search(r"(src|href)\s*=\s*[\"']?(https?:)?//", index.read_text())


def test_pictures_are_small_and_missing_ones_say_so(report):
    index, records = report
    thumbs = sorted((index.parent / "report" / "thumbs").iterdir())
    assert len(thumbs) == 8  # 6 ring8 runs + 2 translation runs; the copy run has no folder
    for thumb in thumbs:
        with Image.open(thumb) as im:
            assert max(im.size) <= THUMB_PX
        assert thumb.stat().st_size < 15_000
    for curve in (index.parent / "report" / "curves").iterdir():
        assert curve.stat().st_size < 30_000
    for name in [p.name for p in thumbs]:
        assert re.fullmatch(r"[A-Za-z0-9._-]+", name)  # run ids with ':' and '/' made safe
    text = index.read_text(encoding="utf-8")
    assert text.count("no image") == 2 and "no curve" in text  # the copy run and its summary


def test_plots_where_their_metrics_are(report):
    index, _ = report
    assets = index.parent / "report"
    assert (assets / "ring8-pr.png").is_file() and (assets / "ring8-compute.png").is_file()
    assert not (assets / "paired-folder_data_x-pr.png").exists()
    assert (assets / "paired-folder_data_x-compute.png").is_file()  # FD[raw] at wall time
    assert "No precision-recall plot" in index.read_text(encoding="utf-8")


def test_odd_names_and_messages_are_escaped(report):
    index, _ = report
    text = index.read_text(encoding="utf-8")
    assert '<section id="ds-paired-folder_data_x">' in text
    assert "<h2>paired-folder:/data/x</h2>" in text
    assert "Not ranked" in text and "failed" in text and "loss became &lt;NaN&gt;" in text
    assert "<NaN>" not in text


def test_rerendering_changes_no_byte(report):
    index, records = report

    def snapshot(folder: Path) -> dict[str, bytes]:
        return {str(p.relative_to(folder)): p.read_bytes()
                for p in sorted(folder.rglob("*")) if p.is_file()}

    before = snapshot(index.parent)
    write_report(records, index.parent)
    assert snapshot(index.parent) == before


def test_pictures_survive_their_run_folders(tmp_path):
    """Rendering from a store whose run folders are gone keeps the committed pictures."""
    index, records = render(tmp_path)
    for r in records:
        for png in Path(r.run_dir).glob("*.png"):
            png.unlink()
    write_report(records, index.parent)
    assert index.read_text(encoding="utf-8").count("no image") == 2


def test_pictures_of_runs_that_left_the_store_are_removed(tmp_path):
    index, records = render(tmp_path)
    assets = index.parent / "report"
    before = {p.name for p in assets.rglob("*.png")}
    kept = [r for r in records if r.dataset == "ring8"]
    write_report(kept, index.parent)
    after = {p.name for p in assets.rglob("*.png")}
    assert after < before and not any("paired-folder" in name for name in after)
    assert parse(index).links and all((index.parent / link).is_file()
                                      for link in parse(index).links if not link.startswith("#"))


def test_no_runs_is_a_page_too(tmp_path):
    index = write_report([], tmp_path)
    assert "No runs yet." in index.read_text(encoding="utf-8")


def test_an_unreadable_picture_is_a_placeholder(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "samples.png").write_bytes(b"not a png")
    record = RunRecord(run_id="gan-x-s0", model="gan", dataset="x", split="test",
                       profile="quick", seed=0, config={}, status="completed",
                       run_dir=str(run_dir))
    text = write_report([record], tmp_path / "out").read_text(encoding="utf-8")
    assert text.count("no image") == 2 and "no curve" in text


def protocol_records(root: Path) -> list[RunRecord]:
    """digits-oneclass:0 and :1, ae and vae over three seeds; vae clearly better on class 1."""
    records = []
    auroc = {("ae", 0): (0.90, 0.92, 0.94), ("ae", 1): (0.80, 0.81, 0.82),
             ("vae", 0): (0.91, 0.93, 0.95), ("vae", 1): (0.97, 0.98, 0.99)}
    for (model, k), values in auroc.items():
        for seed, value in enumerate(values):
            run_id = f"{model}-digits-oneclass:{k}-s{seed}"
            records.append(RunRecord(
                run_id=run_id, model=model, dataset=f"digits-oneclass:{k}", split="test",
                profile="quick", seed=seed, config={}, status="completed",
                run_dir=str(root / run_id),
                metrics=[_metric("auroc", value, True), _metric("auprc", value, True)],
                evaluation={"protocol": "oneclass", "normal_classes": [k]}))
            _png(root / run_id / "reconstructions.png", (200, 100), seed)
    return records


def test_anomaly_protocols_get_a_per_class_board(tmp_path):
    index = write_report(protocol_records(tmp_path / "runs"), tmp_path / "out")
    text = index.read_text(encoding="utf-8")
    assert '<section id="ds-digits-oneclass_all">' in text
    assert 'href="#ds-digits-oneclass_all"' in text  # in the navigation
    tables = parse(index).tables
    classes = [rows for kind, rows in tables if kind == "sortable classes"]
    assert len(classes) == 2  # AUROC and AUPRC
    # Best mean first: vae (95%, 93% and 98%), then ae (86%); columns model, profile, seeds,
    # 0, 1, mean (no settings column: no run has any).
    assert [row[0][0] for row in classes[0]] == ["vae", "ae"]
    assert classes[0][0][4] == ("98 ± 2.5", "98.0")
    assert classes[0][0][3][0] == "93 ± 5"  # rounded to 2 significant digits, like the rest
    # Bold only where the intervals clear: class 1 (98 ± 2.5 against 81 ± 2.5), not class 0.
    assert "<b>98 ± 2.5</b>" in text and "<b>93 ± 5</b>" not in text
    # The same rule in each class's own "across seeds" table (as fractions there).
    assert "<b>0.98 ± 0.025</b>" in text and "<b>0.93 ± 0.05</b>" not in text
    assert (tmp_path / "out" / "report" / "digits-oneclass-classes.png").is_file()
    # Models without samples show their reconstructions as the thumbnail.
    assert "no image" not in text
