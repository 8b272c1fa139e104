"""Training jobs in the background: progress, cancel, one at a time, failures; torchrun on CPU."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from testkit.paths import REPO
from testkit.cohorts import copy_bundle
from lemof import load_run
from lemof.training.jobs import JobError, JobSpec, cancel_job, job_status, list_jobs, running_job, start_job

TINY = {"ehr_params": {"hidden": 16, "layers": 2}, "sig_params": {"channels": [8, 8, 16]}, "d_model": 16, "attention_heads": 2, "stacker_hidden": 8,
        "epochs_stage1": 2, "epochs_stage3": 2, "batch_size": 64}


def _wait(job_id, root, timeout=120):
    """The job's final status; fails (well inside the test's timeout) if it has not finished in ``timeout`` s."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        status = job_status(job_id, root)
        if status.finished:
            return status
        time.sleep(0.3)
    status = job_status(job_id, root)
    raise AssertionError(f"job {job_id} still {status.status!r} after {timeout} s; log tail:\n{status.log_tail}")


@pytest.mark.slow  # runs a training job
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
    assert list(p["stages"]) == ["stage 1: EHR encoder", "stage 1: biosignal encoder", "stage 2: level SHAP", "stage 3: cross-modal attention", "concept probes"]
    assert len(p["stages"]["stage 1: EHR encoder"]["history"]) == 2 and p["stays_per_s"] > 0
    run = load_run(root / "tiny-job")
    assert run.metrics.test.model.mae_days == pytest.approx(p["test"]["mae_days"])
    assert running_job(root) is None, "a finished job holds no lock"
    with pytest.raises(JobError, match="already exists"):
        start_job(JobSpec(str(tiny_cohort), "tiny-job", TINY, "cpu"), root)


@pytest.mark.slow  # runs a training job
def test_cancel_leaves_no_run_and_frees_the_lock(tiny_cohort, tmp_path):
    root = tmp_path / "runs"
    slow = dict(TINY, epochs_stage1=200, epochs_stage3=200, patience=200)
    job = start_job(JobSpec(str(tiny_cohort), "to-cancel", slow, "cpu"), root)
    deadline = time.time() + 120
    while not job_status(job.job_id, root).progress.get("stages") and time.time() < deadline:
        time.sleep(0.3)
    started = job_status(job.job_id, root)
    assert started.progress.get("stages"), f"the job reported no training stage in 120 s ({started.status}); log tail:\n{started.log_tail}"
    status = cancel_job(job.job_id, root)
    assert status.status == "cancelled" and "cancel" in status.reason
    assert not (root / "to-cancel").exists() and not list(root.glob(".*.partial"))
    assert running_job(root) is None
    assert [j.name for j in list_jobs(root)] == ["to-cancel"]


@pytest.mark.slow  # runs a training job
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


def _shard_probe(args: list[str], probe_dir, env, ranks: int = 1):
    """Run the lemof CLI (under torchrun for ``ranks`` > 1) through ``testkit.shard_probe``; return the
    process and, per rank, what each stage trained and validated on."""
    probe_dir.mkdir()
    launcher = [sys.executable, "-m"] if ranks == 1 else [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(ranks), "-m"]
    proc = subprocess.run(launcher + ["testkit.shard_probe", *args], cwd=REPO, capture_output=True, text=True, timeout=130,
                          env={**env, "LEMOF_SHARD_PROBE": str(probe_dir)})
    seen = {int(f.stem.removeprefix("rank")): json.loads(f.read_text()) for f in probe_dir.glob("rank*.json")}
    return proc, seen


@pytest.mark.slow  # runs a training job
def test_torchrun_with_two_cpu_processes_matches_one(tiny_cohort, tmp_path):
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps(dict(TINY, epochs_stage1=3, epochs_stage3=3)))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    common = ["train", "--data", str(tiny_cohort), "--config", str(cfg), "--device", "cpu", "--quiet"]
    single, one_saw = _shard_probe(common + ["--out", str(tmp_path / "one")], tmp_path / "probe-one", env)
    assert single.returncode == 0, single.stderr
    progress = tmp_path / "p.json"
    multi, two_saw = _shard_probe(common + ["--out", str(tmp_path / "two"), "--progress-file", str(progress)], tmp_path / "probe-two", env, ranks=2)
    assert multi.returncode == 0, multi.stderr[-3000:]
    one, two = load_run(tmp_path / "one"), load_run(tmp_path / "two")
    assert json.loads((tmp_path / "two" / "config.json").read_text())["world_size"] == 2
    assert json.loads(progress.read_text())["world_size"] == 2
    assert two.level_shap is not None and not two.level_shap[two.level_importance.levels["ehr"]].isna().any().any(), "every stay's level SHAP was gathered"
    # The data is sharded: at every step of every stage each rank trains on its own half of the
    # global batch the single process trains on, the two halves disjoint and together the whole
    # batch; validation likewise (each rank scores its share of the validation stays).
    assert sorted(one_saw) == [0] and sorted(two_saw) == [0, 1], "every process recorded what it trained on"
    (single_calls,), (rank0, rank1) = one_saw.values(), (two_saw[0], two_saw[1])
    assert [c["stage"] for c in rank0] == [c["stage"] for c in rank1] == [c["stage"] for c in single_calls] and len(single_calls) >= 3
    for whole, a, b in zip(single_calls, rank0, rank1):
        steps = min(len(whole["train"]), len(a["train"]), len(b["train"]))  # early stopping may end one run sooner
        assert steps >= 1 and len(a["train"]) == len(b["train"]), whole["stage"]
        for batch, x, y in zip(whole["train"][:steps], a["train"], b["train"]):
            assert not set(x) & set(y), f"{whole['stage']}: the ranks train on disjoint shares"
            assert sorted(x + y) == sorted(batch), f"{whole['stage']}: together the global batch"
            assert abs(len(x) - len(y)) <= 1 and len(x) < len(batch)
        val = lambda c: [i for batch in c["val"] for i in batch]  # noqa: E731
        epoch_one = len(set(val(whole)))  # the validation stays, scored once per epoch
        shares = [set(val(a)), set(val(b))]
        assert not shares[0] & shares[1] and shares[0] | shares[1] == set(val(whole)), f"{whole['stage']}: validation is sharded"
        assert abs(len(shares[0]) - len(shares[1])) <= 1 and len(shares[0]) + len(shares[1]) == epoch_one
    a, b = one.metrics.test.model, two.metrics.test.model
    # Same global batches and steps (checked above); they differ by dropout draws and per-rank batch-norm statistics.
    assert abs(a.mae_days - b.mae_days) <= 0.15 * a.mae_days
    assert abs(a.kappa_linear_10bucket - b.kappa_linear_10bucket) <= 0.15
