"""Run folders: the episode log every run writes, and atomic file writes.

Every run, RL or planner, writes ``episodes.csv`` with at least the columns of
:data:`EPISODE_COLUMNS`; sample-efficiency figures are computed from these files alone.
This module sits beside the layered packages (it imports nothing of them), so that training
(agents) and evaluation write the same format.

Why one module of ~520 lines: the episode log, atomic writes and the run-folder lock are the
run-folder format and its guarantees (docs/reliability.md), kept beside each other so that
no writer bypasses them.
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np

#: Columns required by the contract (docs/design.md, "Run folders"), in order.
#: ``model_rollouts`` counts the imagined trials (a planner's rehearsals in its model) behind
#: an episode; 0 for RL.
EPISODE_COLUMNS = ("episode", "env_steps", "wall_time_s", "return", "length", "success",
                   "death", "split", "map_id", "model_rollouts")
#: Logs written before ``model_rollouts`` existed are still read (as 0 imagined trials).
_OPTIONAL_ON_READ = ("model_rollouts",)
#: Extra columns moonshot writes: what happened, which trial at a scenario, planner compute,
#: and ``model_steps``: the env steps the imagined trials stand for (in the env's units, so
#: real + imagined env steps add up; 0 for RL, empty in logs written before it existed).
EXTRA_COLUMNS = ("outcome", "trial", "compute_s", "agent", "seed", "model_steps")
ALL_COLUMNS = EPISODE_COLUMNS + EXTRA_COLUMNS


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file in the same folder and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes it private; results are for everyone to read
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def _jsonable(obj: Any):
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating,)):
        return float(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, type):
        return f"{obj.__module__}.{obj.__qualname__}"
    raise TypeError(f"not JSON serializable: {type(obj).__name__}")


def write_json(path: str | os.PathLike, data: Any) -> None:
    """Atomically write ``data`` as indented JSON (numpy scalars and arrays allowed)."""
    atomic_write_text(path, json.dumps(data, indent=2, default=_jsonable) + "\n")


def read_json(path: str | os.PathLike) -> Any:
    path = Path(path)
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise FileNotFoundError(f"missing file: {path}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"unreadable JSON file {path}: {exc}") from None


class EpisodeLog:
    """Append-only ``episodes.csv`` writer.

    Rows are appended and flushed in small batches (a crash loses at most the unflushed rows,
    never earlier ones); a torn last line from a killed process is dropped when the log is
    reopened. ``truncate_after_steps`` drops rows past a checkpoint on resume, so a resumed run
    neither loses nor duplicates episodes.
    """

    def __init__(self, path: str | os.PathLike, flush_every: int = 64,
                 truncate_after_steps: int | None = None, flush_seconds: float = 10.0):
        self.path = Path(path)
        self.flush_seconds = flush_seconds
        self._last_flush = time.monotonic()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.flush_every = flush_every
        self._buffer: list[dict] = []
        self.episodes = 0
        self.deaths = 0  # episodes that ended in a death, in the whole log
        self.last_env_steps = 0
        self.last_wall_time = 0.0
        if self.path.exists() and self.path.stat().st_size > 0:
            rows = _read_rows(self.path)
            if truncate_after_steps is not None:  # rows past a checkpoint are replayed
                rows = _rows_up_to(rows, truncate_after_steps, self.path)
            check_rows(rows, self.path)
            self._rewrite(rows)
            if rows:
                self.episodes = int(rows[-1]["episode"])
                self.deaths = sum(r["death"] == "1" for r in rows)
                self.last_env_steps = int(rows[-1]["env_steps"])
                self.last_wall_time = float(rows[-1]["wall_time_s"])
        else:
            self._rewrite([])

    def _rewrite(self, rows: list[dict]) -> None:
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=ALL_COLUMNS, extrasaction="ignore",
                                lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        atomic_write_text(self.path, buf.getvalue())

    def add(self, *, env_steps: int, wall_time_s: float, ret: float, length: int,
            success: bool, death: bool, split: str, map_id: int, outcome: str = "",
            trial: int = 1, model_rollouts: int = 0, compute_s: float | None = None,
            agent: str = "", seed: int | str = "", model_steps: int = 0) -> int:
        """Add one episode with every column named (the one place a row is built)."""
        return self.append(
            env_steps=int(env_steps), wall_time_s=round(float(wall_time_s), 6),
            length=int(length), success=success, death=death, split=split,
            map_id=int(map_id), model_rollouts=int(model_rollouts), outcome=outcome,
            trial=int(trial), compute_s="" if compute_s is None else round(compute_s, 6),
            agent=agent, seed=seed, model_steps=int(model_steps),
            **{"return": round(float(ret), 6)})

    def append(self, **row: Any) -> int:
        """Add one episode (missing extra columns are left empty); returns its number."""
        row.setdefault("model_rollouts", 0)  # RL: no imagined trials
        missing = [c for c in EPISODE_COLUMNS if c not in row and c != "episode"]
        if missing:
            raise ValueError(f"episode row lacks required column(s) {missing}")
        self.episodes += 1
        row["episode"] = self.episodes
        for key in ("success", "death"):
            row[key] = int(bool(row[key]))
        self.deaths += row["death"]
        self.last_env_steps = int(row["env_steps"])
        self.last_wall_time = float(row["wall_time_s"])
        self._buffer.append(row)
        # Flush by count (a million one-step launches) or by age (long drives).
        if (len(self._buffer) >= self.flush_every
                or time.monotonic() - self._last_flush > self.flush_seconds):
            self.flush()
        return self.episodes

    def flush(self) -> None:
        """Append the buffered rows. Idempotent: rows carry their episode number, and only
        those past the last whole row on disk are written (a torn last line is cut first), so
        an interrupt anywhere in here and a second flush never duplicate or lose a row."""
        self._last_flush = time.monotonic()
        if not self._buffer:
            return
        with open(self.path, "r+b") as fh:
            on_disk = _last_whole_row(fh, self.path)
            rows = [r for r in self._buffer if int(r["episode"]) > on_disk]
            if rows:
                buf = io.StringIO()
                writer = csv.DictWriter(buf, fieldnames=ALL_COLUMNS, extrasaction="ignore",
                                        lineterminator="\n")
                writer.writerows(rows)
                fh.write(buf.getvalue().encode("utf-8"))
                fh.flush()
                os.fsync(fh.fileno())
                _interrupt_point("flush")
        self._buffer.clear()

    def close(self) -> None:
        self.flush()

    def __enter__(self) -> EpisodeLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_FLUSHES = [0]


def _interrupt_point(name: str) -> None:
    """Fault injection for the reliability probes: with ``MOONSHOT_FAULT=sigint-NAME@K`` the
    process sends itself SIGINT (Ctrl-C) at the K-th ``NAME`` point (``flush``: after a
    flush's rows are on disk). Off (one dict lookup) otherwise."""
    spec = os.environ.get("MOONSHOT_FAULT")
    if not spec or not spec.startswith(f"sigint-{name}@"):
        return
    _FLUSHES[0] += 1
    if _FLUSHES[0] == int(spec.partition("@")[2] or 1):
        import signal

        os.kill(os.getpid(), signal.SIGINT)


def _last_whole_row(fh, path: Path) -> int:
    """The episode number of the last whole row of the open log ``fh`` (0: the header
    only), cutting a torn last line (a write interrupted or killed half way); ``fh`` is left
    at the end of the file."""
    end = fh.seek(0, os.SEEK_END)
    tail, start = b"", end
    while start > 0 and tail.count(b"\n") < 2:
        start = max(0, start - 4096)
        fh.seek(start)
        tail = fh.read(end - start)
    if not tail.endswith(b"\n"):
        cut = tail.rfind(b"\n") + 1
        fh.truncate(start + cut)
        tail = tail[:cut]
        fh.seek(0, os.SEEK_END)
    lines = tail.splitlines()
    last = lines[-1].split(b",", 1)[0] if lines else b"episode"
    if last == b"episode":
        return 0
    try:
        return int(last)
    except ValueError:
        raise ValueError(f"corrupt episode log {path}: its last row starts {last[:40]!r}, not "
                         "an episode number") from None


def check_rows(rows: list[dict], path: Path) -> None:
    """Raise ``ValueError`` naming the file and line if the rows of an ``episodes.csv`` are
    not a valid log (numbers where numbers belong, episodes counted 1, 2, ..., env steps and
    wall time never going back)."""
    last_steps, last_wall = -1, -1.0
    for k, r in enumerate(rows, start=1):
        where = f"{path}, line {k + 1}"
        try:
            episode, steps = int(r["episode"]), int(float(r["env_steps"]))
            wall = float(r["wall_time_s"])
            int(float(r["length"]))
            float(r["return"])
            if r["success"] not in ("0", "1") or r["death"] not in ("0", "1"):
                raise ValueError("success and death must be 0 or 1")
        except (TypeError, ValueError, KeyError) as exc:
            raise ValueError(f"corrupt episode log {where}: {exc}") from None
        if episode != k:
            raise ValueError(f"corrupt episode log {where}: episode {episode}, expected {k} "
                             "(a row lost or written twice)")
        if steps < last_steps or wall < last_wall - 1e-6:
            raise ValueError(f"corrupt episode log {where}: env_steps or wall_time_s goes "
                             "back (two writers on one run folder?)")
        last_steps, last_wall = steps, wall


def _rows_up_to(rows: list[dict], steps: int, path: Path) -> list[dict]:
    """The rows logged up to env step ``steps`` (the log's order: steps never go back)."""
    out = []
    for k, r in enumerate(rows, start=2):
        try:
            if int(float(r["env_steps"])) > steps:
                break
        except (TypeError, ValueError) as exc:
            raise ValueError(f"corrupt episode log {path}, line {k}: {exc}") from None
        out.append(r)
    return out


def _read_text(path: Path, what: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"unreadable {what} {path}: not a text CSV file ({exc.reason} at byte "
                         f"{exc.start}); restore it, or start a new run in another folder") \
            from None


def _read_rows(path: Path) -> list[dict]:
    text = _read_text(path, "episode log")
    if text and not text.endswith("\n"):
        text = text[: text.rfind("\n") + 1]  # drop a torn last line
    reader = csv.DictReader(io.StringIO(text))
    if reader.fieldnames is None:
        return []
    missing = [c for c in EPISODE_COLUMNS
               if c not in reader.fieldnames and c not in _OPTIONAL_ON_READ]
    if missing:
        raise ValueError(f"{path} is not an episodes.csv: missing column(s) {missing}")
    return list(reader)


def read_evaluations(path: str | os.PathLike) -> list[dict]:
    """The rows of a training run's ``evaluations.csv`` (a file or its run folder), as
    strings; ``[]`` if the run has none."""
    path = Path(path)
    if path.is_dir():
        path = path / "evaluations.csv"
    if not path.exists():
        return []
    text = _read_text(path, "evaluations file")
    if text and not text.endswith("\n"):
        text = text[: text.rfind("\n") + 1]  # drop a torn last line
    reader = csv.DictReader(io.StringIO(text))
    needed = ("env_steps", "split", "success_rate")
    missing = [c for c in needed if c not in (reader.fieldnames or needed)]
    if missing:
        raise ValueError(f"{path} is not an evaluations.csv: missing column(s) {missing}")
    rows = list(reader)
    for k, r in enumerate(rows, start=2):
        try:
            int(float(r["env_steps"]))
            float(r["success_rate"])
        except (TypeError, ValueError):
            raise ValueError(f"corrupt evaluations file {path}, line {k}: {r}") from None
    return rows


def read_episodes(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read an ``episodes.csv`` (a file or a run folder holding one) into column arrays."""
    path = Path(path)
    if path.is_dir():
        path = path / "episodes.csv"
    if not path.exists():
        raise FileNotFoundError(f"missing episode log: {path}")
    rows = _read_rows(path)
    cols: dict[str, np.ndarray] = {}
    try:
        for key in ("episode", "env_steps", "length", "success", "death", "map_id"):
            cols[key] = np.array([int(float(r[key])) for r in rows], dtype=np.int64)
        cols["model_rollouts"] = np.array([int(float(r.get("model_rollouts") or 0))
                                           for r in rows], dtype=np.int64)
        # imagined env steps; unknown (NaN) in a log written before the column existed,
        # unless it imagined nothing
        cols["model_steps"] = np.array(
            [float(r["model_steps"]) if r.get("model_steps") not in (None, "") else
             (0.0 if int(float(r.get("model_rollouts") or 0)) == 0 else np.nan)
             for r in rows], dtype=np.float64)
        for key in ("wall_time_s", "return"):
            cols[key] = np.array([float(r[key]) for r in rows], dtype=np.float64)
        for key in ("trial", "compute_s"):
            vals = [r.get(key) or "" for r in rows]
            cols[key] = np.array([float(v) if v != "" else np.nan for v in vals])
    except (KeyError, ValueError, TypeError) as exc:
        raise ValueError(f"unreadable episode log {path}: {exc} (a row with missing or "
                         "non-numeric fields)") from None
    for key in ("split", "outcome", "agent"):
        cols[key] = np.array([r.get(key) or "" for r in rows], dtype=object)
    cols["success"] = cols["success"].astype(bool)
    cols["death"] = cols["death"].astype(bool)
    return cols


def check_named_folder(out: str | os.PathLike, what: str = "run") -> Path:
    """``out`` as a path, refusing one that names nothing (``''``: the current folder,
    unnamed, which a run must never take over)."""
    if not str(out).strip():
        raise ValueError(f"--out {str(out)!r} names no folder (moonshot never writes into the "
                         f"current folder unnamed): give one, e.g. --out runs/{what}")
    return Path(out)


class RunFolderBusy(RuntimeError):
    """Another live process writes the run folder."""


class RunLock:
    """An exclusive lock on a run folder for the life of a run (``with RunLock(folder):``).

    The lock is ``folder/.lock``, held with ``fcntl.flock`` (released by the kernel when the
    holder dies, however it dies) and naming its holder (pid, host, start). A second writer
    gets :class:`RunFolderBusy` naming the holder; a lock file left by a dead process is taken
    over. On file systems without ``flock`` the lock is a second file, ``folder/.lock.pid``,
    created exclusively (``O_EXCL``, atomic there too) and removed on release; one left by a
    dead process of this host is taken over.
    """

    NAME = ".lock"

    def __init__(self, folder: str | os.PathLike, what: str = "run"):
        self.folder = Path(folder)
        self.what = what
        self._fh: io.TextIOWrapper | None = None
        self._excl: Path | None = None

    def acquire(self) -> RunLock:

        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / self.NAME
        fh = open(path, "a+")
        try:
            import fcntl

            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                fh.seek(0)
                holder = fh.read().strip() or "another process"
                fh.close()
                raise RunFolderBusy(
                    f"run folder {self.folder} is in use by {holder}; wait for it to finish "
                    "or choose another --out") from None
            except OSError:  # no flock here (some network file systems)
                self._exclusive(fh)
        except ImportError:  # not POSIX
            self._exclusive(fh)
        fh.seek(0)
        fh.truncate()
        fh.write(self._holder())
        fh.flush()
        self._fh = fh
        return self

    def _holder(self) -> str:
        import socket

        return (f"pid {os.getpid()} on {socket.gethostname()} ({self.what}, since "
                f"{time.strftime('%Y-%m-%d %H:%M:%S')})\n")

    def _exclusive(self, fh) -> None:
        """The lock without flock: ``.lock.pid`` created with O_EXCL (one winner)."""
        import socket

        path = self.folder / (self.NAME + ".pid")
        for _ in range(2):
            try:
                fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                try:
                    text = path.read_text().split()
                except FileNotFoundError:
                    continue  # released meanwhile: try again
                stale = False
                if len(text) >= 4 and text[0] == "pid" and text[3] == socket.gethostname():
                    try:
                        os.kill(int(text[1]), 0)
                    except (ProcessLookupError, ValueError):
                        stale = True
                    except PermissionError:
                        pass
                if not stale:
                    fh.close()
                    raise RunFolderBusy(f"run folder {self.folder} is in use by "
                                        f"{' '.join(text) or 'another process'}; wait for it "
                                        "to finish or choose another --out") from None
                path.unlink(missing_ok=True)  # its holder is gone: take over
                continue
            with os.fdopen(fd, "w") as out:
                out.write(self._holder())
            self._excl = path
            return
        fh.close()
        raise RunFolderBusy(f"run folder {self.folder}: could not take its lock {path}")

    def release(self) -> None:
        # The file stays (unlinking it would let a waiting process lock a file no one else
        # sees); emptied, it names no holder, and closing it releases the flock.
        if self._fh is not None:
            try:
                self._fh.seek(0)
                self._fh.truncate()
            finally:
                self._fh.close()
                self._fh = None
        if self._excl is not None:
            self._excl.unlink(missing_ok=True)
            self._excl = None

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


class run_folder:
    """``with run_folder(path, "plan"):`` the folder locked for the life of a run
    (:class:`RunLock`); with ``fresh=True`` it must not hold a run yet. If the run fails
    before writing anything, a folder it created is removed again (nothing else is touched),
    so a failed start never leaves a folder that cannot be reused."""

    def __init__(self, path: str | os.PathLike, what: str = "run", fresh: bool = True):
        self.path = Path(path)
        self.what = what
        self.fresh = fresh
        self._created = False
        self._lock = RunLock(self.path, what)

    def __enter__(self) -> Path:
        self._created = not self.path.exists()
        self._lock.acquire()
        if self.fresh and (self.path / "episodes.csv").exists():
            self._lock.release()
            raise FileExistsError(f"run folder {self.path} already holds a run; choose another "
                                  "--out (nothing was overwritten)")
        return self.path

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._lock.release()
        if exc_type is not None and self._created:
            remove_if_empty(self.path)


def _holds_results(folder: Path) -> bool:
    """Whether a run folder (or any folder in it: a sweep's cells) holds anything worth
    keeping: a logged episode, a checkpoint, a model, a result, a report."""
    for path in folder.rglob("*"):
        if path.name in ("latest.json", "model.zip", "summary.json", "result.json",
                         "report.md"):
            return True
        if path.name in ("episodes.csv", "evaluations.csv") and path.is_file():
            with open(path, "rb") as fh:
                if fh.read(1 << 16).count(b"\n") > 1:  # the header and at least one row
                    return True
    return False


def remove_if_empty(folder: Path) -> None:
    """Remove ``folder`` (which this invocation created) after a failed start: when it holds
    no file but the lock file, or only what the failed run itself began to write (its config,
    a header-only log) and no result; a folder with results is kept whole."""
    import shutil

    folder = Path(folder)
    if not folder.is_dir():
        return
    if not any(p.is_file() and p.name != RunLock.NAME for p in folder.rglob("*")) or \
            not _holds_results(folder):
        shutil.rmtree(folder, ignore_errors=True)
