"""Training jobs started from the app: a subprocess per job, one at a time per runs directory.

A job runs the same command line as a user would (``python -m lemof train …``, or
``torchrun --standalone --nproc_per_node N -m lemof train …`` for several GPUs) in its own
process group, outside the Streamlit script thread. It writes a progress file
(``FileProgress``) and its log beside it under ``<runs>/.jobs/<job id>/``; the app polls them,
so a browser refresh or a closed tab loses nothing. The run directory appears only when the
job succeeds (it is written atomically); a crashed or cancelled job leaves no usable run.

One job at a time per runs directory: ``<runs>/.train.lock`` names the job and its process;
a lock whose process has died is stale and is taken over.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

from lemof.errors import LemofError
from lemof.paths import cache_dir, confined, safe_name, write_json_atomic
from lemof.runs.metrics_file import METRICS_FILE
from lemof.runs.train_config import TrainConfig

JOBS = ".jobs"
LOCK = ".train.lock"
RUN_NAME_MAX = 80
REPO_ROOT = Path(__file__).resolve().parents[2]  # lemof/<package>/<module>.py
_CHILDREN: dict[int, subprocess.Popen] = {}  # jobs this process started (reaped on status checks)


class JobError(LemofError):
    """A job cannot be started or found (bad name, another job running, …)."""


def runs_root() -> Path:
    """Where the app's jobs write their runs: ``<cache>/runs`` (``LEMOF_CACHE_DIR`` etc.)."""
    return cache_dir() / "runs"


@dataclass
class JobSpec:
    cohort: str  # bundle directory
    name: str  # run name (sanitised into a directory name)
    options: dict[str, Any]  # TrainConfig options
    device: str = "auto"
    gpus: int = 1


@dataclass
class JobStatus:
    job_id: str
    name: str
    run_dir: str
    status: str  # running | done | failed | cancelled | crashed
    started: float
    spec: dict[str, Any]
    progress: dict[str, Any] = field(default_factory=dict)
    exit_code: int | None = None
    log_tail: list[str] = field(default_factory=list)
    reason: str = ""  # why it ended, for failed / cancelled / crashed

    @property
    def finished(self) -> bool:
        return self.status != "running"


def _alive(pid: int) -> bool:
    """The process exists and is not a zombie (reaps our own children)."""
    child = _CHILDREN.get(pid)
    if child is not None and child.poll() is not None:
        return False
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] != "Z"
    except OSError:
        return True


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def running_job(root: Path | None = None) -> JobStatus | None:
    """The job holding the lock of ``root``, if its process is alive (a stale lock is removed)."""
    root = Path(root or runs_root())
    lock = root / LOCK
    info = _read_json(lock)
    if not info:
        return None
    if _alive(int(info.get("pid", -1))):
        return job_status(info["job_id"], root)
    lock.unlink(missing_ok=True)  # the job died without releasing it
    return None


def check_name(name: str, root: Path | None = None) -> str:
    """A safe, unused run name; ``JobError`` says what is wrong with it."""
    root = Path(root or runs_root())
    try:
        clean = safe_name(name, max_len=RUN_NAME_MAX)
    except ValueError as exc:
        raise JobError(str(exc)) from None
    if len(name) > RUN_NAME_MAX:
        raise JobError(f"run name is {len(name)} characters long; at most {RUN_NAME_MAX}")
    if clean != name:
        raise JobError(f"run name {name!r} may only use letters, digits and . _ + - (for example {clean!r})")
    if (root / clean).exists():
        raise JobError(f"a run named {clean!r} already exists in {root}; choose another name")
    return clean


def start_job(spec: JobSpec, root: Path | None = None, before_launch: Callable[[str], None] | None = None) -> JobStatus:
    """Validate ``spec``, take the lock and start the training process; returns its status.

    ``before_launch(job_id)`` runs once everything is checked and the lock is held, just before the
    process starts (the app records the job in the audit log there); if it raises, nothing starts."""
    root = Path(root or runs_root())
    root.mkdir(parents=True, exist_ok=True)
    name = check_name(spec.name, root)
    TrainConfig.from_dict(dict(spec.options))  # every option checked before anything starts
    if not (Path(spec.cohort) / "provenance.json").exists():
        raise JobError(f"cohort {spec.cohort} is not a cohort bundle (no provenance.json)")
    if spec.gpus < 1:
        raise JobError(f"GPUs must be at least 1, got {spec.gpus}")
    job_id = time.strftime("%Y%m%d-%H%M%S") + f"-{name}"
    job_dir = root / JOBS / job_id
    job_dir.mkdir(parents=True)
    lock = root / LOCK
    current = running_job(root)
    if current is not None:
        shutil.rmtree(job_dir, ignore_errors=True)
        raise JobError(f"job {current.name!r} is still running in {root}; wait for it or cancel it first (one job at a time)")
    try:
        fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        shutil.rmtree(job_dir, ignore_errors=True)
        raise JobError(f"another job is starting in {root}; try again in a moment") from None
    _remove_partials(root)
    if before_launch is not None:
        try:
            before_launch(job_id)
        except BaseException:
            os.close(fd)
            lock.unlink(missing_ok=True)
            shutil.rmtree(job_dir, ignore_errors=True)
            raise
    write_json_atomic(job_dir / "config.json", dict(spec.options))
    train = ["-m", "lemof", "train", "--data", str(spec.cohort), "--out", str(root / name), "--config", str(job_dir / "config.json"),
             "--device", spec.device, "--progress-file", str(job_dir / "progress.json"), "--quiet"]
    if spec.gpus > 1:  # torchrun: one process per GPU, rank 0 writes the run and the progress file
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={spec.gpus}", *train]
    else:
        cmd = [sys.executable, *train]
    with open(job_dir / "train.log", "wb") as log:
        proc = subprocess.Popen(cmd, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    _CHILDREN[proc.pid] = proc
    job = {"job_id": job_id, "name": name, "pid": proc.pid, "run_dir": str(root / name), "started": time.time(), "command": cmd, "spec": asdict(spec)}
    write_json_atomic(job_dir / "job.json", job)
    with os.fdopen(fd, "w") as fh:
        json.dump({"job_id": job_id, "pid": proc.pid}, fh)
    return job_status(job_id, root)


def _job_dir(root: Path, job_id: str) -> Path:
    """The folder of job ``job_id`` under ``root``; a job id that would leave ``<root>/.jobs``
    (``..``, an absolute path, a NUL byte, a symbolic link pointing out, …) is a ``JobError``."""
    try:
        return confined(root / JOBS, job_id, what="job id")
    except LemofError as exc:
        raise JobError(str(exc)) from None


def _tail(path: Path, n: int = 20) -> list[str]:
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []
    return [l for l in lines if l.strip()][-n:]


def job_status(job_id: str, root: Path | None = None) -> JobStatus:
    """Status of a job from its files and its process (works after an app restart too)."""
    root = Path(root or runs_root())
    job_dir = _job_dir(root, job_id)
    job = _read_json(job_dir / "job.json")
    if not job:
        raise JobError(f"no job {job_id!r} in {root}")
    progress = _read_json(job_dir / "progress.json")
    pid = int(job["pid"])
    child = _CHILDREN.get(pid)
    exit_code = child.poll() if child is not None else None
    alive = _alive(pid)
    status = progress.get("status", "running")
    log_tail = _tail(job_dir / "train.log")
    reason = ""
    if alive:
        status = "running"
    elif status == "running":  # the process is gone without saying how it ended
        status = "crashed"
        reason = f"the training process ended without finishing (exit code {exit_code if exit_code is not None else 'unknown'})"
    elif status in ("failed", "cancelled"):
        reason = progress.get("error") or status
    if status == "done" and not (Path(job["run_dir"]) / METRICS_FILE).exists():
        status, reason = "crashed", "the job reported success but its run directory is missing"
    return JobStatus(job_id, job["name"], job["run_dir"], status, job["started"], job["spec"], progress, exit_code, log_tail, reason)


def cancel_job(job_id: str, root: Path | None = None, grace_s: float = 10.0) -> JobStatus:
    """Stop a running job: SIGTERM to its process group (it removes its partial output and
    records "cancelled"), SIGKILL after ``grace_s``."""
    root = Path(root or runs_root())
    job = _read_json(_job_dir(root, job_id) / "job.json")
    if not job:
        raise JobError(f"no job {job_id!r} in {root}")
    pid = int(job["pid"])
    if _alive(pid):
        try:
            os.killpg(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        deadline = time.time() + grace_s
        while _alive(pid) and time.time() < deadline:
            time.sleep(0.1)
        if _alive(pid):
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    progress_path = _job_dir(root, job_id) / "progress.json"
    progress = _read_json(progress_path)
    if progress.get("status", "running") == "running":  # killed before it could say so itself
        progress.update(status="cancelled", error="cancelled by the user")
        write_json_atomic(progress_path, progress)
    _remove_partials(root)
    return job_status(job_id, root)


def list_jobs(root: Path | None = None, limit: int = 20) -> list[JobStatus]:
    """The most recent jobs of ``root``, newest first."""
    root = Path(root or runs_root())
    jobs_dir = root / JOBS
    if not jobs_dir.is_dir():
        return []
    out = []
    for d in sorted((p for p in jobs_dir.iterdir() if p.is_dir()), reverse=True)[:limit]:
        try:
            out.append(job_status(d.name, root))
        except JobError:
            continue
    return out


def _remove_partials(root: Path) -> None:
    """Remove the hidden half-written run directories (``.<name>.*.partial``) no live job owns."""
    if running_job_pid(root) is not None:
        return
    for p in root.glob(".*.partial"):
        shutil.rmtree(p, ignore_errors=True)


def running_job_pid(root: Path) -> int | None:
    info = _read_json(Path(root) / LOCK)
    pid = int(info.get("pid", -1)) if info else -1
    return pid if pid > 0 and _alive(pid) else None
