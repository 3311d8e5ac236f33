"""Progress of a run, an evaluation or a sweep: rich bars on a terminal, plain periodic lines
anywhere else."""

from __future__ import annotations

import os
import time

from rich.console import Console

# Where the output is no terminal (a CI log, nohup, | tee) a bar cannot redraw: each task
# prints a plain line when it starts, at most every this many seconds, and when it ends.
PLAIN_PROGRESS_SECONDS = float(os.environ.get("GENBENCH_PROGRESS_SECONDS", 30))
_now = time.monotonic  # the training bar's clock (a name tests can replace)


def _line_progress(console: Console):
    """A rich Progress that draws nothing and prints plain, throttled lines instead."""
    import threading

    from rich.progress import Progress

    def clock(seconds: float | None) -> str:
        if seconds is None:
            return "?"
        minutes, secs = divmod(int(seconds), 60)
        return f"{minutes // 60}:{minutes % 60:02d}:{secs:02d}"

    class LineProgress(Progress):
        def __init__(self) -> None:
            super().__init__(console=console, disable=True)
            self._printed: dict = {}  # task id -> (time printed, finished then)

        def start(self) -> None:
            super().start()
            self._stopped = threading.Event()
            threading.Thread(target=self._heartbeat, name="genbench-progress-lines",
                             daemon=True).start()

        def stop(self) -> None:
            stopped = getattr(self, "_stopped", None)
            if stopped is not None:
                stopped.set()
            super().stop()

        def _heartbeat(self) -> None:
            """A line for each unfinished task that has printed none for a period, whether
            or not it moved: a phase that runs minutes without a step of its own (a metric
            over 256x256 test images) otherwise leaves a log silent, as if hung."""
            period = max(PLAIN_PROGRESS_SECONDS, 1.0)
            while not self._stopped.wait(min(period, 5.0)):
                with self._lock:
                    for task_id in list(self._tasks):
                        self._line(task_id, period)

        def _line(self, task_id, gap: float | None = None) -> None:
            task = self._tasks.get(task_id)
            if task is None or not task.visible:
                return
            now = time.monotonic()
            last, was_done = self._printed.get(task_id, (None, False))
            done = task.total is not None and task.completed >= task.total
            gap = PLAIN_PROGRESS_SECONDS if gap is None else gap
            if was_done or not (last is None or (done and not was_done) or now - last >= gap):
                return
            self._printed[task_id] = (now, done)
            total = "?" if task.total is None else f"{task.total:g}"
            share = f" {100 * task.completed / task.total:3.0f}%" if task.total else ""
            left = "" if done or task.time_remaining is None else \
                f", ~{clock(task.time_remaining)} left"
            extra = task.fields.get("losses", "")
            console.print(f"{task.description} {task.completed:g}/{total}{share} "
                          f"({clock(task.elapsed or 0)} elapsed{left})"
                          + (f"  {extra}" if extra else ""), markup=False, highlight=False,
                          soft_wrap=True)

        def update(self, task_id, **kwargs) -> None:
            with self._lock:  # the heartbeat's thread prints too: one line at a time
                super().update(task_id, **kwargs)
                self._line(task_id)

        def advance(self, task_id, advance: float = 1) -> None:
            with self._lock:
                super().advance(task_id, advance)
                self._line(task_id)

        def reset(self, task_id, **kwargs) -> None:
            super().reset(task_id, **kwargs)
            self._printed.pop(task_id, None)  # its next update starts a new line series

    return LineProgress()


def _progress_bar(console: Console, progress=None):
    """A training bar and an evaluation bar (added when scoring starts) for one run, and the
    callbacks api.run drives them with; a sweep passes its own ``progress`` to hold them.
    Without a terminal the bars are plain periodic lines (:func:`_line_progress`)."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    if progress is None and not console.is_terminal:
        progress = _line_progress(console)
    elif progress is None:
        progress = Progress(TextColumn("[bold]{task.description:<10}"), BarColumn(bar_width=24),
                            MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn(),
                            TextColumn("{task.fields[losses]}", markup=False), console=console,
                            transient=False)
    # Shown from the model's first step: the evaluator may train before it (its own row).
    task = progress.add_task("training", total=None, losses="", visible=False)
    rows: dict[str, object] = {}

    def fit(text: str) -> str:
        if not progress.live.console.is_terminal:
            return text  # a plain line may be long: nothing redraws it
        room = max(0, console.width - 62)  # the text gives way before the bar and counts
        return text if len(text) <= room else text[:max(0, room - 1)] + "…"

    def evaluating(what: str, done: int, total: int) -> None:
        if what.startswith("training the "):  # the evaluator, once per workdir
            row, what = "evaluator", what.removeprefix("training the ")
        else:
            row = "evaluating"
        if row not in rows:
            rows[row] = progress.add_task(row, total=total, losses="")
        progress.update(rows[row], completed=done, total=total, losses=fit(what))

    last = [0.0]  # when the bar last moved

    def update(step: int, total: int, losses: dict[str, float]) -> None:
        # Every tenth step, and at least every second where steps are slow (a 256x256 CycleGAN
        # step takes ~10 s on a CPU: every tenth step was a line every 100 s).
        now = _now()
        if step == 1 or step % 10 == 0 or step == total or now - last[0] >= 1.0:
            last[0] = now
            text = "  ".join(f"{k} {v:.3g}" for k, v in losses.items())
            if not progress.tasks[progress.task_ids.index(task)].visible:
                progress.reset(task, visible=True)  # its clock starts with the model's steps
            progress.update(task, completed=step, total=total, losses=fit(text))

    return progress, update, evaluating
