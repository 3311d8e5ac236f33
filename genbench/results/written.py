"""What a render wrote into its output folder, so that it only ever removes its own files.

A render keeps its folder tidy: the records of runs that left the store and the report's
pictures of runs no longer shown go. It may remove a file only when ``OUT/.genbench-written.json``
says a render wrote it and the file still has the content written then. Anything else in the
folder (files a person put or edited there, a repository's committed copies from before the
manifest existed) is never removed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path

from genbench.atomic import write_text

MANIFEST = ".genbench-written.json"


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _load(out_dir: Path) -> dict[str, str]:
    """Relative path -> SHA-256 of what a render wrote; empty when missing or unreadable."""
    try:
        data = json.loads((out_dir / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    files = data.get("files") if isinstance(data, dict) else None
    return {k: v for k, v in files.items() if isinstance(k, str) and isinstance(v, str)} \
        if isinstance(files, dict) else {}


def _relative(out_dir: Path, path: Path) -> str:
    return Path(path).relative_to(out_dir).as_posix()


def remember(out_dir: str | Path, paths: Iterable[Path]) -> None:
    """Add ``paths`` (files just written under ``out_dir``) to the manifest, with their
    content's hash; entries of files that are gone are dropped."""
    out_dir = Path(out_dir)
    files = {rel: digest for rel, digest in _load(out_dir).items() if (out_dir / rel).is_file()}
    for path in paths:
        files[_relative(out_dir, Path(path))] = _digest(Path(path))
    text = json.dumps({"about": "files written by genbench leaderboard render; only these, "
                                "unchanged, are ever removed by it", "files": dict(sorted(
                                    files.items()))}, indent=1) + "\n"
    write_text(out_dir / MANIFEST, text)


def prune(out_dir: str | Path, candidates: Iterable[Path], keep: set[Path]) -> list[Path]:
    """Remove each of ``candidates`` not in ``keep`` that a render wrote and nobody changed
    since; return what was removed."""
    out_dir = Path(out_dir)
    ours = _load(out_dir)
    kept = {Path(p) for p in keep}
    removed = []
    for path in candidates:
        path = Path(path)
        if path in kept or not path.is_file():
            continue
        if ours.get(_relative(out_dir, path)) == _digest(path):
            path.unlink()
            removed.append(path)
    return removed
