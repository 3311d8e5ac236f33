"""8-bit images held as uint8 until the batch (genbench.data.base), and the on-disk cache of
decoded images (genbench.data.decoded): exact conversion, cache hits, misses, invalidation and
damaged entries, and DatasetSpec.load's uint8 form for builtin and third-party loaders."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from genbench.data import decoded
from genbench.data.base import TensorData, _unit_table, resize_images, to_unit, unit_pixels
from genbench.errors import GenbenchError


def reference_float(pixels: torch.Tensor) -> torch.Tensor:
    """The float path as it has always been computed."""
    return pixels.to(torch.float32).div_(127.5).sub_(1.0)


def test_every_8bit_value_converts_exactly():
    values = torch.arange(256, dtype=torch.uint8)
    expected = reference_float(values)
    assert torch.equal(unit_pixels(values), expected)
    # The lookup used off the CPU gives the same bits (here checked on the CPU's table).
    assert torch.equal(_unit_table(torch.device("cpu"))[values.int()], expected)
    assert expected[0] == -1.0 and expected[255] == 1.0


@pytest.mark.parametrize("size", [None, 5, 10, 20, 13])  # native, area, same, nearest, bilinear
def test_to_float_and_batches_of_a_resized_set_match_the_whole_set(size):
    pixels = torch.randint(0, 256, (9, 3, 10, 10), generator=torch.Generator().manual_seed(0),
                           dtype=torch.uint8)
    data = TensorData("t", "train", pixels, torch.arange(9), image_size=size)
    whole = resize_images(reference_float(pixels), size).contiguous()
    assert data.is_uint8 and data.example_shape == tuple(whole.shape[1:])
    converted = data.to_float()
    assert converted.x.dtype == torch.float32 and converted.image_size is None
    assert torch.equal(converted.x, whole) and converted.to_float() is converted
    # Resizing a batch of images gives what resizing the whole set gives them.
    for idx in (torch.tensor([4, 0, 7]), torch.tensor([8])):
        assert torch.equal(to_unit(pixels[idx], size), whole[idx])


def files_of(tmp_path: Path, n: int = 4) -> tuple[Path, list[Path]]:
    folder = tmp_path / "src"
    (folder / "sub").mkdir(parents=True)
    files = []
    for i in range(n):
        file = folder / ("sub" if i % 2 else ".") / f"{i}.bin"
        file.write_bytes(bytes([i % 256]) * (i % 5 + 3))
        files.append(file.resolve())
    return folder.resolve(), files


def counting_decode(files: list[Path], calls: list[int], label: str = "loading unit"):
    def decode() -> np.ndarray:
        calls.append(1)
        out = np.empty((len(files), 2), dtype=np.uint8)
        return decoded.decode_into(out, files, lambda p: np.frombuffer(p.read_bytes()[:2],
                                                                       np.uint8), label)
    return decode


def entry(folder_name: str = "unit") -> Path:
    found = sorted(decoded.cache_dir().glob(f"{folder_name}-*.npy"))
    assert len(found) == 1, found
    return found[0]


def test_cache_hit_miss_and_invalidation(tmp_path, monkeypatch):
    monkeypatch.setenv("GENBENCH_CACHE_DIR", str(tmp_path / "cache"))
    folder, files = files_of(tmp_path)
    calls = []
    first = decoded.cached("unit", folder, files, {"p": 1}, counting_decode(files, calls), "t")
    assert calls == [1] and first.tolist() == [[i, i] for i in range(4)]
    path = entry()
    assert path.parent == tmp_path / "cache" / "decoded"
    info = json.loads(path.with_suffix(".json").read_text())
    assert info["source"] == str(folder) and info["files"] == 4 and info["params"] == {"p": 1}
    again = decoded.cached("unit", folder, files, {"p": 1}, counting_decode(files, calls), "t")
    assert calls == [1] and np.array_equal(again, first)  # a hit
    # Other decode parameters: another entry.
    decoded.cached("unit", folder, files, {"p": 2}, counting_decode(files, calls), "t")
    assert calls == [1, 1]
    # Touching a file (its time changes, not its bytes) decodes again and replaces the entry.
    stat = files[1].stat()
    os.utime(files[1], ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    decoded.cached("unit", folder, files, {"p": 1}, counting_decode(files, calls), "t")
    assert len(calls) == 3
    entries = sorted(decoded.cache_dir().glob("unit-*.npy"))
    assert len(entries) == 2 and path not in entries  # the stale {"p": 1} entry is gone
    # Changing a file's size, or the list of files, decodes again.
    files[2].write_bytes(b"\x09\x08\x07\x06\x05\x04\x03")
    out = decoded.cached("unit", folder, files, {"p": 1}, counting_decode(files, calls), "t")
    assert len(calls) == 4 and out[2].tolist() == [9, 8]
    decoded.cached("unit", folder, files[:3], {"p": 1}, counting_decode(files[:3], calls), "t")
    assert len(calls) == 5


@pytest.mark.parametrize("damage", ["truncate", "flip", "garbage", "no-description",
                                    "bad-description", "list-description", "other-shape",
                                    "npz"])
def test_damaged_entry_is_decoded_again(tmp_path, monkeypatch, capsys, damage):
    monkeypatch.setenv("GENBENCH_CACHE_DIR", str(tmp_path / "cache"))
    folder, files = files_of(tmp_path)
    calls = []
    first = decoded.cached("unit", folder, files, {}, counting_decode(files, calls), "t")
    path = entry()
    described = path.with_suffix(".json")
    raw = path.read_bytes()
    if damage == "truncate":
        path.write_bytes(raw[:-3])
    elif damage == "flip":  # the header is intact: only the CRC can tell
        path.write_bytes(raw[:-1] + bytes([raw[-1] ^ 1]))
    elif damage == "garbage":
        path.write_bytes(b"not an npy file at all")
    elif damage == "no-description":
        described.unlink()
    elif damage == "bad-description":
        described.write_text("{not json")
    elif damage == "list-description":
        described.write_text("[1, 2]")
    elif damage == "npz":
        with open(path, "wb") as f:
            np.savez(f, first)
    else:
        np.save(path, np.zeros((4, 3), np.uint8))
    capsys.readouterr()
    again = decoded.cached("unit", folder, files, {}, counting_decode(files, calls), "t")
    assert calls == [1, 1] and np.array_equal(again, first)
    assert "damaged" in capsys.readouterr().err
    # ... and the rewritten entry is valid again.
    decoded.cached("unit", folder, files, {}, counting_decode(files, calls), "t")
    assert calls == [1, 1]


def test_unwritable_cache_still_loads(tmp_path, monkeypatch, capsys):
    blocker = tmp_path / "cache"
    blocker.write_text("a file where the cache folder should be")
    monkeypatch.setenv("GENBENCH_CACHE_DIR", str(blocker))
    folder, files = files_of(tmp_path)
    calls = []
    out = decoded.cached("unit", folder, files, {}, counting_decode(files, calls), "t")
    assert calls == [1] and out.shape == (4, 2)
    err = capsys.readouterr().err
    assert "could not cache" in err and "\n" == err[-1] and err.count("\n") == 1


def test_missing_source_and_errors_in_file_order(tmp_path, monkeypatch):
    monkeypatch.setenv("GENBENCH_CACHE_DIR", str(tmp_path / "cache"))
    folder, files = files_of(tmp_path, n=600)  # several chunks of work
    with pytest.raises(GenbenchError, match="gone: .*9.bin"):
        decoded.cached("unit", folder, [*files, folder / "9.bin"], {}, lambda: None, "t",
                       missing=lambda p: GenbenchError(f"gone: {p}"))

    def read(path: Path) -> np.ndarray:
        if path.name in ("300.bin", "550.bin", "20.bin"):
            raise GenbenchError(f"bad {path.name}")
        return np.zeros(2, np.uint8)

    with pytest.raises(GenbenchError, match="bad 20.bin"):
        decoded.decode_into(np.empty((600, 2), np.uint8), files, read, "t")


def test_large_decodes_report_progress_and_cache_use(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GENBENCH_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(decoded, "LARGE", 100)
    folder, files = files_of(tmp_path, n=1000)
    calls = []
    decoded.cached("unit", folder, files, {}, counting_decode(files, calls), "loading unit")
    lines = capsys.readouterr().err.splitlines()
    progress = [line for line in lines if line.endswith(" images")]
    assert 8 <= len(progress) <= 11 and progress[-1] == "loading unit: 1,000/1,000 images"
    assert "saved the decoded images" in lines[-1]
    decoded.cached("unit", folder, files, {}, counting_decode(files, calls), "loading unit")
    assert calls == [1]
    assert capsys.readouterr().err.startswith("loading unit: 1,000 decoded images from the cache")


def test_cache_location_defaults_to_the_user_cache(monkeypatch, tmp_path):
    monkeypatch.delenv("GENBENCH_CACHE_DIR")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert decoded.cache_dir() == tmp_path / ".cache" / "genbench" / "decoded"


# --- DatasetSpec.load(uint8=True) -----------------------------------------------------------

def uint8_loader(split="train", image_size=None, root=None, uint8=False):
    pixels = torch.arange(2 * 3 * 4 * 4, dtype=torch.int64).remainder(256).to(torch.uint8)
    data = TensorData("u", split, pixels.view(2, 3, 4, 4), image_size=image_size)
    return data if uint8 else data.to_float()


def float_loader(split="train", image_size=None, root=None):
    return TensorData("f", split, torch.zeros(2, 3, image_size or 4, image_size or 4))


def test_dataset_spec_load_asks_for_uint8_only_where_the_loader_offers_it():
    from genbench.registry import DatasetSpec

    def spec(loader: str) -> DatasetSpec:
        return DatasetSpec(name="x", kind="images", summary="", source="", shape=(3, 4, 4),
                           loader=f"{__name__}:{loader}")

    default = spec("uint8_loader").load("train", image_size=8)
    assert default.x.dtype == torch.float32 and default.x.shape == (2, 3, 8, 8)
    kept = spec("uint8_loader").load("train", image_size=8, uint8=True)
    assert kept.x.dtype == torch.uint8 and kept.x.shape == (2, 3, 4, 4)
    assert kept.example_shape == (3, 8, 8) and torch.equal(kept.to_float().x, default.x)
    third_party = spec("float_loader").load("train", image_size=8, uint8=True)
    assert third_party.x.dtype == torch.float32 and third_party.example_shape == (3, 8, 8)


def test_decoding_threads_keep_to_a_sweep_workers_share(monkeypatch):
    """Each sweep worker decoded with up to 8 threads, whatever its share of the cores."""
    from genbench.data import decoded

    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(16)))
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert decoded.workers() == 8
    monkeypatch.setenv("OMP_NUM_THREADS", "2")  # a worker's share, set by the driver
    assert decoded.workers() == 2
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0})
    monkeypatch.delenv("OMP_NUM_THREADS")
    assert decoded.workers() == 1
