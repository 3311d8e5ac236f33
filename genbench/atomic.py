"""Atomic file writes: readers see the old file or the new one, never a half-written one."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from genbench.errors import GenbenchError

# Marks the temporary files of atomic writes. A process killed with -9 mid-write leaves its
# temporary file behind (no ``finally`` runs); the mark lets the owner of a folder find such
# leftovers and remove them (:func:`remove_leftovers`).
PART = ".genbench-part"


def atomic_write(path: str | os.PathLike, write: Callable[[str], None]) -> Path:
    """Call ``write(tmp_path)`` on a temporary file beside ``path``, then move it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # The temporary file keeps the extension last: writers that pick a format by it still can.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.",
                               suffix=f"{PART}{path.suffix}")
    os.close(fd)
    try:
        write(tmp)
        # mkstemp makes the file 0600; the result gets what a plain open() would give it
        # (0666 less the umask), so a shared workdir or a served leaderboard is readable.
        os.chmod(tmp, 0o666 & ~_UMASK)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def _umask() -> int:
    """The process's umask (reading it means setting it: set it straight back), read once
    at import, before any thread could create a file meanwhile."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _umask()


def remove_leftovers(folder: str | os.PathLike) -> list[Path]:
    """Remove the temporary files that killed atomic writes left in ``folder`` (not below it).

    Only for a folder no other process is writing in (a run's folder while its run holds it,
    see :func:`hold_folder`): a live writer's temporary file would vanish under it."""
    removed = []
    for leftover in Path(folder).glob(f".*{PART}*"):
        if leftover.is_file():
            leftover.unlink(missing_ok=True)
            removed.append(leftover)
    return removed


class FolderHold:
    """An exclusive lock on a folder (``flock`` on the folder itself), held while a process
    works in it. The system drops it when the process ends however it ends, kill -9 included,
    so a folder that cannot be held is in use by a live process: what tells a run left
    ``running`` by a kill from one that is still running."""

    def __init__(self, fd: int | None):
        self.fd = fd

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    __del__ = release


def hold_folder(folder: str | os.PathLike) -> FolderHold | None:
    """Hold ``folder`` (see :class:`FolderHold`); None when another process holds it. Where
    folders cannot be locked (Windows, some network file systems) the hold is granted."""
    try:
        import fcntl
    except ImportError:
        return FolderHold(None)
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    except OSError:  # no locks on this file system
        os.close(fd)
        return FolderHold(None)
    return FolderHold(fd)


@contextmanager
def one_at_a_time(path: str | os.PathLike) -> Iterator[None]:
    """Hold ``path + ".lock"`` exclusively, waiting for another process that holds it: around
    work that several processes (sweep workers) would otherwise all do at once, such as
    training the evaluator they share. Where files cannot be locked, nothing waits."""
    lock = Path(f"{path}.lock")
    lock.parent.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:
        yield
        return
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except OSError:  # no locks on this file system
            pass
        yield
    finally:
        os.close(fd)


def write_text(path: str | os.PathLike, text: str) -> Path:
    return atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))


def output_folder(path: str | os.PathLike, option: str = "--out") -> Path:
    """``path`` as a folder to write into, refused with a one-line error when it (or a folder
    above it) is an existing file; checked before anything is written."""
    path = Path(path)
    for part in (path, *path.parents):
        if part.exists():
            if not part.is_dir():
                where = "" if part == path else f"{part} "
                raise GenbenchError(f"{option} {path}: {where}is a file, not a folder; {option} "
                                    f"takes a folder (created if missing)")
            break
    return path
