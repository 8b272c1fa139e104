"""Sections of the Retrain page: the form, the running job (polled), finished jobs."""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from lemof import FUSIONS, CohortEntry, LemofError, list_cohorts, list_runs
from lemof.runs.catalog import preferred_order
from lemof.training.jobs import JobSpec, JobStatus, cancel_job, check_name, job_status, list_jobs, running_job, runs_root, start_job
from lemof.models.fusions import LEMOF_VARIANTS
from lemof.models.registry import list_encoders
from lemof.training.cost import estimate_seconds
from lemof.training.recipes import PRESET_HELP, PRESETS, load_recipe
from ui import access, sidebar
from ui.context import ActiveContext
from ui.widgets import chart, md
from lemof.plots.model_card import training_curves_figure

_ACTIVATION = "retrain_activation"  # (job id, why it could not be made active) of the last click


def devices() -> tuple[list[str], str, int]:
    """(device choices, what auto means here, number of GPUs)."""
    import torch

    n = torch.cuda.device_count()
    auto = f"CUDA: {torch.cuda.get_device_name(0)}" + (f" (× {n})" if n > 1 else "") if n else "CPU (no GPU found)"
    return (["auto", "cpu", "cuda"] if n else ["auto", "cpu"]), auto, n


def form(ctx: ActiveContext) -> None:
    """The training form; validates every field and starts the job."""
    cohorts = list_cohorts()
    keys = [c.key for c in cohorts]
    labels = {c.key: c.label for c in cohorts}
    choices, auto, n_gpus = devices()
    c1, c2 = st.columns([2, 1])
    cohort_key = c1.selectbox("Cohort", keys, index=keys.index(ctx.cohort.key) if ctx.cohort.key in keys else 0, format_func=labels.__getitem__, key="train_cohort")
    preset = c2.segmented_control("Preset", list(PRESETS), default="default", key="train_preset", help=" · ".join(f"{k}: {v}" for k, v in PRESET_HELP.items())) or "default"
    cohort = cohorts[keys.index(cohort_key)]
    recipe = load_recipe(cohort.source)
    with st.form("train_form"):
        fusion = st.selectbox("Fusion method", FUSIONS, key="train_fusion", help="LeMoF, its ablations, the baselines, or gradient boosting on summary statistics (gbm).")
        c1, c2, c3, c4 = st.columns(4)
        ehr = c1.selectbox("EHR encoder", list_encoders("ehr"), index=list_encoders("ehr").index("gru"), key="train_ehr")
        sig = c2.selectbox("Biosignal encoder", list_encoders("sig"), index=list_encoders("sig").index("resnet1d"), key="train_sig")
        seed = c3.number_input("Seed", min_value=0, max_value=2**31 - 1, value=0, step=1, key="train_seed")
        device = c4.selectbox("Device", choices, help=f"auto = {auto}", key="train_device")
        c1, c2, c3, c4, c5 = st.columns(5)
        p = PRESETS[preset]
        e1 = c1.number_input("Epochs, stage 1", min_value=1, max_value=500, value=p["epochs_stage1"], key=f"train_e1_{preset}")
        e3 = c2.number_input("Epochs, stage 3", min_value=1, max_value=500, value=p["epochs_stage3"], key=f"train_e3_{preset}")
        batch = c3.number_input("Batch size", min_value=2, max_value=4096, value=p["batch_size"], key=f"train_batch_{preset}")
        lr = c4.number_input("Learning rate", min_value=0.0, max_value=1.0, value=p["lr"], format="%.4g", step=1e-4, key=f"train_lr_{preset}")
        gpus = c5.number_input("GPUs", min_value=1, max_value=max(n_gpus, 1), value=max(n_gpus, 1), disabled=n_gpus < 2, key="train_gpus",
                               help="Several GPUs train with torchrun (DistributedDataParallel)." if n_gpus > 1 else "One GPU or the CPU here.")
        use_recipe = st.checkbox(f"Use the {cohort.source} recipe {recipe}" if recipe else "No recipe for this cohort family", value=bool(recipe), disabled=not recipe, key=f"train_recipe_{cohort_key}")
        head = st.checkbox("Tabular head: LightGBM on per-stay summaries, weighed by the meta-learner like the other heads", value=True, key="train_tabular_head",
                           help="Adopted on the validation split of both cohorts (docs/BENCHMARKS.md, 'A tabular head inside LeMoF'). LeMoF and its ablations only: "
                                "the baselines have no meta-learner and train without it. Its hyperparameters are searched by cross-validation within the training split.")
        if "train_name" not in st.session_state:
            st.session_state["train_name"] = f"{cohort.key.replace('dir:', 'cohort-').split('/')[-1]}-{time.strftime('%Y%m%d-%H%M%S')}"
        name = st.text_input("Run name", key="train_name", help="Letters, digits and . _ + - only; a run of that name must not exist yet.")
        submitted = st.form_submit_button("Train", type="primary")
    options = {**(recipe if use_recipe else {}), "fusion": fusion, "encoders": f"{ehr}+{sig}", "seed": int(seed), "epochs_stage1": int(e1), "epochs_stage3": int(e3),
               "batch_size": int(batch), "lr": float(lr), **({"patience": p["patience"]} if "patience" in p else {}),
               **({"tabular_head": True} if head and fusion in LEMOF_VARIANTS else {})}
    on_gpu = device == "cuda" or (device == "auto" and n_gpus > 0)
    if not on_gpu:
        n = _train_stays(cohort)
        if n:
            st.caption(f"On the CPU training is much slower than on a GPU: this job would take about {_duration(estimate_seconds(n, options, False))} here ({n:,} training stays).")
    if submitted:
        _submit(cohort, name, options, device, int(gpus))


def _train_stays(cohort: CohortEntry) -> int | None:
    try:
        return int((pd.read_parquet(cohort.path / "stays.parquet", columns=["split"])["split"] == "train").sum())
    except Exception:  # noqa: BLE001 - a cohort not built yet: no estimate
        return None


def _submit(cohort: CohortEntry, name: str, options: dict, device: str, gpus: int) -> None:
    if not cohort.ready:
        st.error(f"Cohort {md(cohort.label)} has not been built yet: open it once from the sidebar first.")
        return
    try:
        check_name(name)
        job = start_job(JobSpec(str(cohort.path), name, options, device, gpus), before_launch=lambda job_id: access.record(
            "job.start", job=job_id, name=name, cohort=cohort.key, fusion=options.get("fusion"), encoders=options.get("encoders"), device=device, gpus=gpus))
    except LemofError as exc:
        st.error(f"Not started: {exc}")
        return
    st.session_state["job_id"] = job.job_id
    st.success(f"Started job **{job.name}**: it runs in the background; you can keep using the app, or close this tab.")


def loss_figure(progress: dict) -> go.Figure | None:
    stages = {stage: {"history": s["history"], "best_epoch": "", "epochs_run": len(s["history"])} for stage, s in progress.get("stages", {}).items() if s.get("history")}
    if not stages:
        return None
    return training_curves_figure(stages)


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    seconds = int(seconds)
    return f"{seconds // 60} min {seconds % 60:02d} s" if seconds >= 60 else f"{seconds} s"


@st.fragment(run_every=2.0)
def job_panel() -> None:
    """The current (or last) job, polled every two seconds."""
    current = running_job()
    job_id = current.job_id if current is not None else st.session_state.get("job_id")
    if job_id is None:
        recent = list_jobs(limit=1)
        job_id = recent[0].job_id if recent else None
    if job_id is None:
        st.caption(f"No training job yet. Runs are written under {runs_root()}.")
        return
    try:
        job = job_status(job_id)
    except LemofError as exc:
        st.warning(str(exc))
        return
    seen = st.session_state.get("_job_seen")
    st.session_state["_job_seen"] = (job.job_id, job.status)
    if seen is not None and seen[0] == job.job_id and seen[1] == "running" and job.status != "running":
        st.rerun(scope="app")  # it just ended: redraw the whole page, so the list of jobs below is current too
    show_job(job)


def show_job(job: JobStatus) -> None:
    p = job.progress
    icon = {"running": ":material/hourglass_top:", "done": ":material/check_circle:", "failed": ":material/error:", "cancelled": ":material/cancel:", "crashed": ":material/error:"}[job.status]
    st.markdown(f"#### {icon} Job **{job.name}** — {job.status}")
    spec = job.spec
    st.caption(
        f"{spec['options'].get('fusion', 'lemof')} · {spec['options'].get('encoders')} · seed {spec['options'].get('seed', 0)} · "
        f"device {p.get('device') or spec['device']}" + (f" · {p.get('world_size')} processes" if (p.get("world_size") or 1) > 1 else "")
        + f" · started {time.strftime('%H:%M:%S', time.localtime(job.started))}"
    )
    if job.status == "running":
        stage, done, total = p.get("stage"), p.get("done", 0), p.get("total", 0) or 1
        plan = list(p.get("stages", {}))
        st.progress(min(done / total, 1.0), text=f"{stage or 'starting'}: {done} / {total} · {p.get('message', '')}")
        c = st.columns(3)
        c[0].metric("Stage", f"{len(plan)}" if stage else "–", help=", ".join(plan))
        c[1].metric("Time left in this stage", _duration(p.get("eta_s")))
        c[2].metric("Throughput", f"{p['stays_per_s']:,.0f} stays/s" if p.get("stays_per_s") else "–")
        if st.button("Cancel", key=f"cancel_{job.job_id}"):
            access.record("job.cancel", job=job.job_id, name=job.name)
            job = cancel_job(job.job_id)
            st.warning(f"Job {job.name} {job.status}: {job.reason}")
    elif job.status == "done":
        test = p.get("test", {})
        st.success(f"Finished: test MAE {test.get('mae_days', float('nan')):.2f} days, kappa {test.get('kappa_linear_10bucket', float('nan')):.3f}. The run is in {job.run_dir}.")
        c1, c2 = st.columns(2)
        c1.button("Make it the active model", key=f"activate_{job.job_id}", type="primary", on_click=_activate, args=(job,))
        outcome = st.session_state.get(_ACTIVATION)
        if outcome == (job.job_id, None):
            st.session_state.pop(_ACTIVATION)
            st.rerun()  # the whole app, so the sidebar shows the new active model
        if outcome is not None and outcome[0] == job.job_id:
            st.error(outcome[1])  # stays while this job is shown (the panel polls)
        c2.page_link("pages/compare.py", label="Compare it with the other runs", icon=":material/compare_arrows:", query_params={"runs": ",".join(compare_with(job.name))})
    else:
        st.error(f"The job ended: {job.reason}. No run was written; every existing run and the active model are unchanged.")
    fig = loss_figure(p)
    if fig is not None:
        chart(fig, key=f"job_curves_{job.job_id}_{len(str(p.get('stages')))}")
    if job.log_tail:
        with st.expander("Log (last lines)", expanded=job.status in ("failed", "crashed")):
            st.code("\n".join(job.log_tail[-15:]), language=None)


def compare_with(run_id: str) -> list[str]:
    """The new run and the LeMoF encoder configurations of its cohort family (one run per encoder
    pair, in the sidebar's order): what its Compare link opens on."""
    entries, _ = list_runs()
    new = next((e for e in entries if e.run_id == run_id), None)
    if new is None:
        return [run_id]
    seen, out = {new.encoders} if new.fusion == "lemof" else set(), [run_id]
    for e in preferred_order([e for e in entries if e.source == new.source], new.cohort_name):
        if e.fusion == "lemof" and e.encoders not in seen and len(out) < 6:
            seen.add(e.encoders)
            out.append(e.run_id)
    return out


def _cohort_key(path: str) -> str:
    """The catalog key of the cohort at ``path``; the path itself when the app does not list it."""
    return next((c.key for c in list_cohorts() if Path(c.path).resolve() == Path(path).resolve()), path)


def _activate(job: JobStatus) -> None:
    """Make the job's run the active model (no restart), through the sidebar (a button callback,
    so it runs before the sidebar's widgets exist); why it could not be done is shown under the
    button."""
    cohort_key, run_id = _cohort_key(job.spec["cohort"]), Path(job.run_dir).name
    problem = sidebar.activate(cohort_key, run_id)
    if problem is None:
        access.record("run.activate", scope="session", job=job.job_id, cohort=cohort_key, run=run_id)
    st.session_state[_ACTIVATION] = (job.job_id, problem)


def history() -> None:
    jobs = list_jobs(limit=20)
    if not jobs:
        st.caption("None yet: jobs started here are listed with their status and test MAE.")
        return
    rows = [
        {"job": j.name, "status": j.status, "started": time.strftime("%Y-%m-%d %H:%M", time.localtime(j.started)), "fusion": j.spec["options"].get("fusion"),
         "encoders": j.spec["options"].get("encoders"), "test MAE (days)": (j.progress.get("test") or {}).get("mae_days"), "why it ended": j.reason}
        for j in jobs
    ]
    st.dataframe(pd.DataFrame(rows), hide_index=True, column_config={"test MAE (days)": st.column_config.NumberColumn(format="%.2f")})
