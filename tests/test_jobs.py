"""Training jobs in the background: progress, cancel, one at a time, failures; torchrun on CPU."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from conftest import REPO, copy_bundle
from lemof import load_run
from lemof.training.jobs import JobError, JobSpec, cancel_job, job_status, list_jobs, running_job, start_job

TINY = {"ehr_params": {"hidden": 16, "layers": 2}, "sig_params": {"channels": [8, 8, 16]}, "d_model": 16, "attention_heads": 2, "stacker_hidden": 8,
        "epochs_stage1": 2, "epochs_stage3": 2, "batch_size": 64}


def _wait(job_id, root, timeout=300):
    deadline = time.time() + timeout
    while time.time() < deadline:
        status = job_status(job_id, root)
        if status.finished:
            return status
        time.sleep(0.3)
    raise TimeoutError(job_id)


def test_a_job_runs_to_completion_and_reports_progress(tiny_cohort, tmp_path):
    root = tmp_path / "runs"
    job = start_job(JobSpec(str(tiny_cohort), "tiny-job", TINY, "cpu"), root)
    assert job.status == "running"
    with pytest.raises(JobError, match=r"is still running .*\(one job at a time\)"):
        start_job(JobSpec(str(tiny_cohort), "second-job", TINY, "cpu"), root)
    done = _wait(job.job_id, root)
    assert done.status == "done", done.log_tail
    p = done.progress
    assert p["status"] == "done" and p["test"]["mae_days"] > 0
    assert list(p["stages"]) == ["stage 1: EHR encoder", "stage 1: biosignal encoder", "stage 2: level SHAP", "stage 3: cross-modal attention"]
    assert len(p["stages"]["stage 1: EHR encoder"]["history"]) == 2 and p["stays_per_s"] > 0
    run = load_run(root / "tiny-job")
    assert run.metrics.test.model.mae_days == pytest.approx(p["test"]["mae_days"])
    assert running_job(root) is None, "a finished job holds no lock"
    with pytest.raises(JobError, match="already exists"):
        start_job(JobSpec(str(tiny_cohort), "tiny-job", TINY, "cpu"), root)


def test_cancel_leaves_no_run_and_frees_the_lock(tiny_cohort, tmp_path):
    root = tmp_path / "runs"
    slow = dict(TINY, epochs_stage1=200, epochs_stage3=200, patience=200)
    job = start_job(JobSpec(str(tiny_cohort), "to-cancel", slow, "cpu"), root)
    deadline = time.time() + 120
    while not job_status(job.job_id, root).progress.get("stages") and time.time() < deadline:
        time.sleep(0.3)
    status = cancel_job(job.job_id, root)
    assert status.status == "cancelled" and "cancel" in status.reason
    assert not (root / "to-cancel").exists() and not list(root.glob(".*.partial"))
    assert running_job(root) is None
    assert [j.name for j in list_jobs(root)] == ["to-cancel"]


def test_a_failing_job_says_why_and_a_dead_jobs_lock_is_taken_over(tiny_cohort, tmp_path):
    root = tmp_path / "runs"
    bad = copy_bundle(tiny_cohort, tmp_path / "bad")
    (bad / "ehr_values.npy").write_bytes(b"not an array")
    job = start_job(JobSpec(str(bad), "will-fail", TINY, "cpu"), root)
    failed = _wait(job.job_id, root)
    assert failed.status == "failed" and "not a readable .npy array" in failed.reason
    assert not (root / "will-fail").exists()
    # a lock left by a process that no longer exists does not block the next job
    (root / ".train.lock").write_text(json.dumps({"job_id": "ghost", "pid": 2**22 - 3}))
    again = start_job(JobSpec(str(tiny_cohort), "after-ghost", TINY, "cpu"), root)
    assert _wait(again.job_id, root).status == "done"


def test_bad_names_and_options_are_refused(tiny_cohort, tmp_path):
    from lemof.errors import ConfigError

    root = tmp_path / "runs"
    for name in ("../escape", "a/b", "", ".hidden"):
        with pytest.raises(JobError):
            start_job(JobSpec(str(tiny_cohort), name, TINY, "cpu"), root)
    with pytest.raises(ConfigError, match="lr must be positive"):
        start_job(JobSpec(str(tiny_cohort), "ok-name", dict(TINY, lr=0.0), "cpu"), root)
    with pytest.raises(JobError, match="not a cohort bundle"):
        start_job(JobSpec(str(tmp_path), "ok-name", TINY, "cpu"), root)
    assert not (root / ".train.lock").exists()


def test_torchrun_with_two_cpu_processes_matches_one(tiny_cohort, tmp_path):
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps(dict(TINY, epochs_stage1=3, epochs_stage3=3)))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    single = subprocess.run([sys.executable, "-m", "lemof", "train", "--data", str(tiny_cohort), "--out", str(tmp_path / "one"), "--config", str(cfg), "--device", "cpu", "--quiet"],
                            cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert single.returncode == 0, single.stderr
    progress = tmp_path / "p.json"
    multi = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m", "lemof", "train", "--data", str(tiny_cohort),
                            "--out", str(tmp_path / "two"), "--config", str(cfg), "--device", "cpu", "--quiet", "--progress-file", str(progress)],
                           cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert multi.returncode == 0, multi.stderr[-3000:]
    one, two = load_run(tmp_path / "one"), load_run(tmp_path / "two")
    assert json.loads((tmp_path / "two" / "config.json").read_text())["world_size"] == 2
    assert json.loads(progress.read_text())["world_size"] == 2
    assert two.level_shap is not None and not two.level_shap[two.level_importance.levels["ehr"]].isna().any().any(), "every stay's level SHAP was gathered"
    a, b = one.metrics.test.model, two.metrics.test.model
    # Same global batches and steps; they differ by dropout draws and per-rank batch-norm statistics.
    assert abs(a.mae_days - b.mae_days) <= 0.15 * a.mae_days
    assert abs(a.kappa_linear_10bucket - b.kappa_linear_10bucket) <= 0.15
