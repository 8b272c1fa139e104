"""Command line: ``python -m lemof {data,train,evaluate,explain,report,audit,db,review,serve} ...``.

Errors caused by input (a missing file, an unknown stay, an incompatible run, an output path
that cannot be written) print one line, ``error: ...``, on stderr and exit with status 2. Every
output path (``--out``, ``train --progress-file``) is checked before the command starts its work.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Sequence

from lemof.errors import ConfigError, LemofError, RunError
from lemof.models.fusions import FUSIONS
from lemof.paths import check_writable


def _finite(obj):
    """NaN and infinities become null, so what is printed is strict JSON."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj


def _print_json(obj, indent: int | None = None) -> None:
    print(json.dumps(_finite(obj), indent=indent, allow_nan=False))


def _cmd_data_synthetic(args: argparse.Namespace) -> int:
    from lemof.data.synthetic import generate_synthetic  # lazy: a command loads only its own dependencies (`data` never imports torch)
    from lemof.progress import TqdmProgress  # lazy: a command loads only its own dependencies (`data` never imports torch)

    bars = TqdmProgress(disable=args.quiet, unit="stay")
    try:
        fingerprint = generate_synthetic(args.out, args.n, args.seed, ecg_strength=args.ecg_strength, ecg_focus=args.ecg_focus,
                                         progress=bars, overwrite=args.overwrite)
    finally:
        bars.close()
    _print_json({"out": str(args.out), "n": args.n, "seed": args.seed, "ecg_strength": args.ecg_strength, "ecg_focus": args.ecg_focus,
                 "fingerprint": fingerprint})
    return 0


def _cmd_data_physionet2012(args: argparse.Namespace) -> int:
    from lemof.data.bundle import open_bundle  # lazy: a command loads only its own dependencies (`data` never imports torch)
    from lemof.data.physionet2012 import build_physionet2012  # lazy: a command loads only its own dependencies (`data` never imports torch)
    from lemof.progress import TqdmProgress  # lazy: a command loads only its own dependencies (`data` never imports torch)

    bars = TqdmProgress(disable=args.quiet, unit="step")
    try:
        fingerprint = build_physionet2012(args.source, args.out, progress=bars, overwrite=args.overwrite, seed=args.seed, sets=args.sets)
    finally:
        bars.close()
    bundle = open_bundle(args.out)
    _print_json({"out": str(args.out), "n": len(bundle), "fingerprint": fingerprint, "dropped": bundle.provenance["dropped"]})
    return 0


def _cmd_data_vendor_physionet2012(args: argparse.Namespace) -> int:
    from lemof.data.physionet2012_source import read_raw, write_vendored  # lazy: a command loads only its own dependencies (`data` never imports torch)

    records = read_raw(args.source)
    write_vendored(records, args.out)
    _print_json({"out": str(args.out), "rows": int(len(records.rows)), "record_files": len(records.record_sets), "sets": records.sets})
    return 0


def _cmd_data_mimic(args: argparse.Namespace) -> int:
    from lemof.progress import TqdmProgress  # lazy: a command loads only its own dependencies (`data` never imports torch)

    from lemof.data.bundle import open_bundle  # lazy: a command loads only its own dependencies (`data` never imports torch)
    from lemof.data.mimic import MimicOptions, build_mimic  # lazy: a command loads only its own dependencies (`data` never imports torch)

    options = MimicOptions(
        window_hours=args.window_hours,
        min_los_hours=args.min_los_hours,
        min_age=args.min_age,
        first_stay_only=not args.all_stays,
        ecg_before_hours=args.ecg_before_hours,
        memory_limit=args.memory_limit,
        threads=args.threads,
    )
    bars = TqdmProgress(disable=args.quiet, unit="step")
    try:
        fingerprint = build_mimic(args.mimic_dir, args.out, ecg_dir=args.ecg_dir, options=options, overwrite=args.overwrite, progress=bars)
    finally:
        bars.close()
    prov = open_bundle(args.out, check_values=False).provenance
    _print_json({"out": str(args.out), "n": prov["n_stays"], "fingerprint": fingerprint, "warnings": prov["warnings"], "dropped": prov["dropped"]})
    return 0


def _train_config(args: argparse.Namespace):
    from lemof.errors import ConfigError  # lazy: a command loads only its own dependencies (`data` never imports torch)
    from lemof.runs.train_config import TrainConfig  # lazy: a command loads only its own dependencies (`data` never imports torch)

    options: dict = {}
    if args.config:
        try:
            options = json.loads(Path(args.config).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise ConfigError(f"cannot read training config {args.config}: {exc}") from None
        if not isinstance(options, dict):
            raise ConfigError(f"training config {args.config} must hold a JSON object")
    for key in ("fusion", "encoders"):
        if getattr(args, key) is not None:
            options[key] = getattr(args, key)
    if args.seed is not None:
        options["seed"] = args.seed
    for key in ("epochs_stage1", "epochs_stage3", "batch_size", "lr", "finetune_encoders", "finetune_lr_scale", "tabular_head"):
        if getattr(args, key) is not None:
            options[key] = getattr(args, key)
    try:
        return TrainConfig.from_dict(options)
    except TypeError as exc:
        raise ConfigError(f"invalid training config: {exc}") from None


def _cmd_train(args: argparse.Namespace) -> int:
    import os
    import signal

    from lemof.progress import FileProgress, TqdmProgress  # lazy: a command loads only its own dependencies (`data` never imports torch)
    from lemof.runs.load import load_run  # lazy: a command loads only its own dependencies (`data` never imports torch)
    from lemof.training.pipeline import train  # lazy: a command loads only its own dependencies (`data` never imports torch)

    cfg = _train_config(args)
    main = int(os.environ.get("RANK", "0")) == 0  # under torchrun, rank 0 alone reports
    bars = TqdmProgress(disable=args.quiet or not main)
    record = FileProgress(args.progress_file, device=args.device, world_size=int(os.environ.get("WORLD_SIZE", "1"))) if args.progress_file and main else None

    def progress(stage, done, total, message="", **info):
        bars(stage, done, total, message, **info)
        if record is not None:
            record(stage, done, total, message, **info)

    def stop(signum, frame):  # Cancel in the app sends SIGTERM: end like Ctrl-C, removing the partial run
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        out = train(args.data, args.out, cfg, device=args.device, progress=progress, overwrite=args.overwrite, log=lambda m: print(m, file=sys.stderr, flush=True))
    except KeyboardInterrupt:
        if record is not None:
            record.finish("cancelled", error="cancelled: the job was stopped before it finished; no run was written")
        print("error: training cancelled; no run directory was written", file=sys.stderr)
        return 130
    except (LemofError, FileExistsError) as exc:
        if record is not None:
            record.finish("failed", error=str(exc))
        raise
    except Exception as exc:
        if record is not None:
            record.finish("failed", error=f"internal error: {type(exc).__name__}: {exc}")
        raise
    finally:
        bars.close()
    if not main:
        return 0
    run = load_run(out)
    test = run.metrics.test
    if record is not None:
        record.finish("done", run=str(out), test=test.model.to_dict())
    _print_json({"run": str(out), "fusion": run.fusion, "encoders": run.encoders, "test": test.model.to_dict(), "train_median": test.train_median.to_dict()})
    return 0


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from lemof.data.bundle import open_bundle  # lazy: a command loads only its own dependencies (`data` never imports torch)
    from lemof.evaluation.evaluate import evaluate_run  # lazy: a command loads only its own dependencies (`data` never imports torch)
    from lemof.runs.load import load_run  # lazy: a command loads only its own dependencies (`data` never imports torch)

    run = load_run(args.run)
    report = evaluate_run(run, open_bundle(args.data), args.split, use_stored=args.stored)
    _print_json(report, indent=2)
    return 0


def _cmd_explain(args: argparse.Namespace) -> int:
    from lemof.data.bundle import open_bundle  # lazy: a command loads only its own dependencies (`data` never imports torch)
    from lemof.explain.drivers import drivers_dict  # lazy: a command loads only its own dependencies (`data` never imports torch)
    from lemof.explain.results import CohortResults  # lazy: a command loads only its own dependencies (`data` never imports torch)
    from lemof.runs.load import load_run  # lazy: a command loads only its own dependencies (`data` never imports torch)

    run = load_run(args.run)
    cohort = CohortResults(run, open_bundle(args.data))
    stays = [cohort.stay(s) for s in args.stay]  # every id checked before any work
    printed = []
    for results in stays:
        # every explanation that applies to the run (lemof.explain.explainers / views), the same objects the page and the report show
        out: dict = {"prediction": results.prediction.to_dict(), "explanations": {e.name: results.attribute(e.name).to_dict() for e in results.explainers}}
        if "drivers" in out["explanations"]:
            out["drivers"] = drivers_dict(results.attribute("drivers"))
        views = {
            "attention": lambda: None if results.attention is None else results.attention.to_dict(per_head=args.per_head),
            "similar": lambda: results.similar(10).to_dict(),
            "concepts": lambda: results.concepts.to_dict(),
        }
        out.update({v.name: views[v.name]() for v in results.views})
        if results.ecg is not None:  # the stay's ECG measured, and its findings (lemof.ecg)
            out["ecg"] = {"measurements": results.ecg.to_dict(), "findings": [f.to_dict() for f in results.ecg_findings()]}
            if results.ecg_machine is not None:  # the ECG cart's own measurements (MIMIC-IV-ECG), beside ours
                out["ecg"]["machine"] = results.ecg_machine
        printed.append(out)
    _print_json(printed[0] if len(printed) == 1 else printed)
    return 0


def _cmd_similar(args: argparse.Namespace) -> int:
    from lemof.data.bundle import open_bundle  # lazy: a command loads only its own dependencies (`data` never imports torch)
    from lemof.explain.results import CohortResults  # lazy: a command loads only its own dependencies (`data` never imports torch)
    from lemof.runs.load import load_run  # lazy: a command loads only its own dependencies (`data` never imports torch)
    from lemof.runs.run import require_lemof  # lazy: a command loads only its own dependencies (`data` never imports torch)

    if args.k < 1:
        raise ConfigError(f"--k must be at least 1; got {args.k}")
    run = load_run(args.run)
    require_lemof(run)
    cohort = CohortResults(run, open_bundle(args.data))
    stays = [cohort.stay(s) for s in args.stay]  # every id checked before any work
    out = []
    for stay in stays:
        found = stay.similar(args.k)
        out.append({
            "stay_id": stay.stay_id,
            "neighbours": [
                {"stay_id": n.stay_id, "similarity": round(n.similarity, 4), "percentile": round(n.percentile, 1), "observed_los_days": round(n.observed_los_days, 1)}
                for n in found.neighbours
            ],
        })
    _print_json(out)
    return 0


def _lemof_run_on_its_cohort(args: argparse.Namespace, why_not_baseline: str):
    """``--run`` and ``--data`` for a command that stores something in a LeMoF run about the very
    cohort it was trained on (``RunError`` for a baseline or another cohort)."""
    from lemof.data.bundle import open_bundle  # lazy: a command loads only its own dependencies (`data` never imports torch)
    from lemof.runs.load import load_run  # lazy: a command loads only its own dependencies (`data` never imports torch)

    run = load_run(args.run)
    bundle = open_bundle(args.data)
    if not run.is_lemof:
        raise RunError(f"run {run.run_id} is the {run.fusion!r} baseline: {why_not_baseline}")
    if bundle.fingerprint != run.cohort.fingerprint:
        raise RunError(f"run {run.run_id} was trained on cohort {run.cohort.name} (fingerprint {run.cohort.fingerprint[:12]}), not on {bundle.name} ({bundle.fingerprint[:12]})")
    return run, bundle


def _cmd_precompute(args: argparse.Namespace) -> int:
    from lemof.explain.results import CohortResults  # lazy: a command loads only its own dependencies (`data` never imports torch)
    from lemof.explain.stay_reasons import compute_stay_reasons  # lazy: a command loads only its own dependencies (`data` never imports torch)
    from lemof.explain.stay_vectors import compute_stay_vectors  # lazy: a command loads only its own dependencies (`data` never imports torch)
    from lemof.explain.ecg_effects import fit_ecg_effects  # lazy: a command loads only its own dependencies (`data` never imports torch)
    from lemof.paths import write_json_atomic  # lazy: a command loads only its own dependencies (`data` never imports torch)
    from lemof.runs.ecg_effects_file import ECG_EFFECTS_FILE  # lazy: a command loads only its own dependencies (`data` never imports torch)
    from lemof.runs.load import load_run  # lazy: a command loads only its own dependencies (`data` never imports torch)
    from lemof.progress import TqdmProgress  # lazy: a command loads only its own dependencies (`data` never imports torch)
    from lemof.runs.stay_reasons_file import STAY_REASONS_FILE, write_stay_reasons  # lazy: a command loads only its own dependencies (`data` never imports torch)
    from lemof.runs.stay_vectors_file import STAY_VECTORS_FILE, write_stay_vectors  # lazy: a command loads only its own dependencies (`data` never imports torch)

    run, bundle = _lemof_run_on_its_cohort(args, "it has no fused representation or cross-modal attention to store")
    written: dict = {"run": run.run_id}
    if not args.skip_vectors:
        tensors = compute_stay_vectors(run.model, run.preprocessor, bundle, progress=TqdmProgress(disable=not sys.stderr.isatty(), unit="stays"))
        out = run.path / STAY_VECTORS_FILE
        write_stay_vectors(out, tensors, weights_sha256=run.weights_sha256, fingerprint=bundle.fingerprint)
        written.update({"written": str(out), "stays": int(len(tensors["stay_id"])), "bytes": out.stat().st_size})
    if args.reasons != "none":
        effects = fit_ecg_effects(CohortResults(run, bundle), progress=TqdmProgress(disable=not sys.stderr.isatty(), unit="stays"))
        if effects is not None:  # the ECG's findings and how much each moves the prediction: the drivers split the ECG by them
            write_json_atomic(run.path / ECG_EFFECTS_FILE, effects)
            run = load_run(run.path)  # read back as the app reads it
            written["ecg_effects"] = {k: effects[k] for k in ("beta", "base_rate", "r2", "n")}
        reasons = compute_stay_reasons(CohortResults(run, bundle), args.reasons, progress=TqdmProgress(disable=not sys.stderr.isatty(), unit="stays"))
        out = run.path / STAY_REASONS_FILE
        write_stay_reasons(out, reasons, weights_sha256=run.weights_sha256, fingerprint=bundle.fingerprint)
        written["reasons"] = {"written": str(out), "split": args.reasons, "stays": len(reasons), "bytes": out.stat().st_size}
    _print_json(written)
    return 0


def _cmd_concepts(args: argparse.Namespace) -> int:
    from lemof.explain.concepts import compute_level_concepts, level_labels  # lazy: a command loads only its own dependencies (`data` never imports torch)
    from lemof.runs.concepts_file import CONCEPTS_FILE  # lazy: a command loads only its own dependencies (`data` never imports torch)
    from lemof.paths import write_json_atomic  # lazy: a command loads only its own dependencies (`data` never imports torch)
    from lemof.progress import TqdmProgress  # lazy: a command loads only its own dependencies (`data` never imports torch)

    run, bundle = _lemof_run_on_its_cohort(args, "it has no encoder levels to probe")
    result = compute_level_concepts(run.model, run.preprocessor, bundle, seed=run.train_config.seed, n_boot=args.bootstrap,
                                    progress=TqdmProgress(disable=not sys.stderr.isatty(), unit="levels"))
    out = run.path / CONCEPTS_FILE
    write_json_atomic(out, result)
    _print_json({"run": run.run_id, "written": str(out), "levels": level_labels(result, list(result["levels"])), "bytes": out.stat().st_size})
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from lemof.audit import cli_actor  # lazy: a command loads only its own dependencies (`data` never imports torch)
    from lemof.data.bundle import open_bundle  # lazy: a command loads only its own dependencies (`data` never imports torch)
    from lemof.report import write_case_report  # lazy: a command loads only its own dependencies (`data` never imports torch)
    from lemof.runs.load import load_run  # lazy: a command loads only its own dependencies (`data` never imports torch)

    out = write_case_report(load_run(args.run), open_bundle(args.data), args.stay, args.out, user=cli_actor(), show_outcomes=args.outcomes)
    _print_json({"report": str(out), "bytes": out.stat().st_size})
    return 0


def _audit_paths(args: argparse.Namespace) -> list[Path]:
    from lemof.audit import default_log_path  # lazy: a command loads only its own dependencies (`data` never imports torch)

    return list(args.log) if args.log else [default_log_path()]


def _cmd_audit_verify(args: argparse.Namespace) -> int:
    from lemof.audit import verify_chain  # lazy: a command loads only its own dependencies (`data` never imports torch)

    for result in verify_chain(_audit_paths(args)):
        for note in result.notes:
            print(f"note: {result.path}: {note}")
        if not result.ok:
            print(f"error: {result.summary()}", file=sys.stderr)
            return 2
        print(result.summary())
    return 0


def _cmd_audit_export(args: argparse.Namespace) -> int:
    from lemof.audit import export_csv, verify_chain  # lazy: a command loads only its own dependencies (`data` never imports torch)
    from lemof.audit.export import parse_since  # lazy: a command loads only its own dependencies (`data` never imports torch)

    paths = _audit_paths(args)
    since = parse_since(args.since)
    checked = verify_chain(paths)[-1]
    if not checked.ok:
        if not args.unverified:
            print(f"error: {checked.summary()}; not exported (--unverified exports it anyway)", file=sys.stderr)
            return 2
        print(f"warning: {checked.summary()}; exported anyway (--unverified)", file=sys.stderr)
    rows = export_csv(paths, sys.stdout, since=since, user=args.user)
    print(f"{rows} entries since {since.isoformat()}" + (f" by {args.user}" if args.user else ""), file=sys.stderr)
    return 0


def _cmd_audit_rotate(args: argparse.Namespace) -> int:
    from lemof.audit import AuditLog, cli_actor, default_log_path  # lazy: a command loads only its own dependencies (`data` never imports torch)

    log = AuditLog(args.log or default_log_path())
    archive = log.rotate(user=cli_actor())
    _print_json({"log": str(log.path), "archived": str(archive)})
    return 0


def _cmd_db_upgrade(args: argparse.Namespace) -> int:
    from lemof.reviews import upgrade  # lazy: a command loads only its own dependencies (`data` never imports torch)
    from lemof.reviews.engine import default_url, display  # lazy: a command loads only its own dependencies (`data` never imports torch)

    url = args.url or default_url()
    before, after = upgrade(url, args.revision)
    print(f"{display(url)}: {before or 'empty'} -> {after}")
    return 0


def _cmd_db_current(args: argparse.Namespace) -> int:
    from lemof.reviews.engine import default_url, display  # lazy: a command loads only its own dependencies (`data` never imports torch)
    from lemof.reviews.migrate import current, head  # lazy: a command loads only its own dependencies (`data` never imports torch)

    url = args.url or default_url()
    at, newest = current(url), head()
    print(f"{display(url)}: {at or 'empty (no schema: run db upgrade)'}" + ("" if at == newest else f" (newest: {newest})"))
    return 0


def _review_ratings(pairs: list[str] | None) -> dict[str, str]:
    ratings: dict[str, str] = {}
    for pair in pairs or []:
        name, sep, value = pair.partition("=")
        if not sep:
            raise ConfigError(f"--rating {pair!r} is not EXPLANATION=RATING (e.g. drivers=useful)")
        ratings[name.strip()] = value.strip()
    return ratings


def _cmd_review_add(args: argparse.Namespace) -> int:
    from lemof.audit import audit_log, cli_actor  # lazy: a command loads only its own dependencies (`data` never imports torch)
    from lemof.data.bundle import open_bundle  # lazy: a command loads only its own dependencies (`data` never imports torch)
    from lemof.explain.results import CohortResults  # lazy: a command loads only its own dependencies (`data` never imports torch)
    from lemof.reviews import ReviewKey, ReviewStore  # lazy: a command loads only its own dependencies (`data` never imports torch)
    from lemof.reviews.store import reviewer_id  # lazy: a command loads only its own dependencies (`data` never imports torch)
    from lemof.runs.load import load_run  # lazy: a command loads only its own dependencies (`data` never imports torch)

    run, bundle = load_run(args.run), open_bundle(args.data)
    if not run.weights_sha256:
        raise RunError(f"run {run.run_id} records no weights SHA-256: a review must name the model it is about")
    results = CohortResults(run, bundle).stay(args.stay)  # StayNotFoundError for an unknown stay, before anything is written
    try:
        predicted = float(results.prediction.los_days)  # stored for the run's own cohort, else computed (lemof.evaluation.predictions)
    except RunError:
        predicted = None
    key = ReviewKey(run_id=run.run_id, weights_sha256=run.weights_sha256, cohort_key=bundle.name, cohort_fingerprint=bundle.fingerprint,
                    stay_id=int(results.stay_id))
    store = ReviewStore(args.url)
    log, actor = audit_log(), cli_actor()

    def audit(event: str, **fields) -> None:
        log.append(event, user=actor, reviewer=reviewer_id(args.user), fingerprint=bundle.fingerprint, **fields)

    record = store.save(key, args.user, args.verdict, estimate_days=args.estimate_days, ratings=_review_ratings(args.rating), note=args.note,
                        predicted_los_days=predicted, audit=audit)
    _print_json(record.to_dict())
    return 0


def _cmd_review_export(args: argparse.Namespace) -> int:
    import io  # lazy: a command loads only its own dependencies (`data` never imports torch)

    from lemof.audit import audit_log, cli_actor  # lazy: a command loads only its own dependencies (`data` never imports torch)
    from lemof.audit.export import parse_since  # lazy: a command loads only its own dependencies (`data` never imports torch)
    from lemof.paths import write_bytes_atomic  # lazy: a command loads only its own dependencies (`data` never imports torch)
    from lemof.reviews import ReviewStore  # lazy: a command loads only its own dependencies (`data` never imports torch)
    from lemof.reviews.export import write_csv, write_parquet  # lazy: a command loads only its own dependencies (`data` never imports torch)

    if args.format == "parquet" and args.out is None:
        raise ConfigError("--format parquet needs --out FILE (Parquet is not written to a terminal)")
    since = parse_since(args.since) if args.since else None
    store = ReviewStore(args.url)
    table = store.reviews(since=since)
    audit_log().append("review.export", user=cli_actor(), rows=len(table), format=args.format, since=since.isoformat() if since else None,
                       out=str(args.out.resolve()) if args.out else "stdout", database=store.url_display)
    if args.format == "parquet":
        write_parquet(table, args.out)
    elif args.out is not None:
        text = io.StringIO()
        write_csv(table, text)
        write_bytes_atomic(args.out, text.getvalue().encode("utf-8"))
    else:
        write_csv(table, sys.stdout)
    print(f"{len(table)} reviews" + (f" changed since {since.isoformat()}" if since else ""), file=sys.stderr)
    return 0


def _cmd_serve(args: argparse.Namespace) -> int:
    import os  # lazy: a command loads only its own dependencies (`data` never imports torch)

    from lemof.audit import default_log_path  # lazy: a command loads only its own dependencies (`data` never imports torch)
    from lemof.deploy.server import REPO_ROOT, ServerSettings, default_secrets_files  # lazy: a command loads only its own dependencies (`data` never imports torch)

    files = list(args.secrets) if args.secrets else default_secrets_files(REPO_ROOT)
    settings = ServerSettings.from_files(files)
    problems = settings.problems()
    if problems:
        for problem in problems[1:]:
            print(f"  also: {problem}", file=sys.stderr)
        raise ConfigError(f"sign-in is configured but cannot work: {problems[0]}")
    refusal = settings.bind_refusal(args.address)
    if refusal:
        raise ConfigError(refusal)
    if args.check:
        _print_json({"address": args.address, "port": args.port, "mode": settings.mode, "access": settings.describe(),
                     "secrets": [str(p) for p in settings.sources], "audit_log": str(default_log_path())})
        return 0
    cmd = [sys.executable, "-m", "streamlit", "run", str(REPO_ROOT / "app.py"), "--server.address", args.address, "--server.port", str(args.port)]
    for path in args.secrets or []:
        cmd += ["--secrets.files", str(path)]
    os.chdir(REPO_ROOT)  # .streamlit/config.toml is read from the working directory
    os.execv(sys.executable, cmd)
    return 0  # not reached


def _cmd_ecg_measure(args: argparse.Namespace) -> int:
    from lemof.ecg.measure import measure  # lazy: a command loads only its own dependencies (`data` never imports torch)
    from lemof.ecg.record import read_record  # lazy: a command loads only its own dependencies (`data` never imports torch)

    record = read_record(args.record)
    m = measure(record, window=None if args.window is None else tuple(args.window))
    out = {"record": str(args.record), "fs_hz": record.fs_hz, "leads": list(record.leads), "duration_s": round(record.duration_s, 3),
           "beats": list(m.beats), "measurements": m.to_dict()}
    if args.json:
        _print_json(out)
        return 0
    d = out["measurements"]

    def v(x, unit=""):
        return "n/a" if x is None else f"{x}{unit}"

    print(f"{record.name}: {len(record.leads)} leads ({', '.join(record.leads)}), {record.fs_hz:g} Hz, "
          f"{record.duration_s:.1f} s, {len(m.beats)} beats")
    print(f"window {d['window_s'][0]}-{d['window_s'][1]} s: rate {v(d['heart_rate_bpm'], ' bpm')}, rhythm {v(d['rhythm'])} "
          f"({d['rr_irregularity_index']} {v(d['rr_irregularity'])}), P waves {v(d['p_waves_present'])}")
    print(f"PR {v(d['pr_ms'], ' ms')}, QRS {v(d['qrs_ms'], ' ms')}, QT {v(d['qt_ms'], ' ms')}, "
          f"QTc ({d['qtc_formula']}) {v(d['qtc_ms'], ' ms')}, axis {v(d['axis_deg'], ' deg')}")
    st = ", ".join(f"{k} {x:+.2f}" for k, x in d["st_deviation_mv"].items() if x is not None)
    print(f"ST at J+60 ms (mV): {st or 'n/a'}")
    noisy = [k for k, q in d["quality"].items() if not q["measurable"]]
    print(f"leads too noisy or flat to measure: {', '.join(noisy) if noisy else 'none'}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m lemof", description="LeMoF: level-guided multimodal fusion for ICU length of stay.")
    sub = p.add_subparsers(dest="command", required=True)

    data = sub.add_parser("data", help="build a cohort bundle").add_subparsers(dest="source", required=True)
    syn = data.add_parser("synthetic", help="generate the synthetic ICU cohort")
    syn.add_argument("--n", type=int, default=4000, help="number of stays (default 4000)")
    syn.add_argument("--seed", type=int, default=0)
    syn.add_argument("--ecg-strength", type=float, default=1.0,
                     help="scale of the ECG-borne part of log-LOS (default 1: the default cohort; 0: none; up to about 3.1)")
    syn.add_argument("--ecg-focus", default="both",
                     help="which ECG causes act on LOS: both (default), morphology (ischaemia, wide QRS) or rhythm (AF, then unseen in the EHR)")
    syn.add_argument("--out", type=Path, required=True, help="bundle directory to create")
    syn.add_argument("--overwrite", action="store_true", help="replace an existing bundle (only once the new one is complete)")
    syn.add_argument("--quiet", action="store_true", help="no progress bar")
    syn.set_defaults(func=_cmd_data_synthetic)

    pn = data.add_parser("physionet2012", help="build the PhysioNet/CinC Challenge 2012 cohort")
    pn.add_argument("--source", default="vendored", help="a directory with set-a/ ... and Outcomes-a.txt ..., a .tar.gz of it, or 'vendored' (the copy in assets/data)")
    pn.add_argument("--out", type=Path, required=True, help="bundle directory to create")
    pn.add_argument("--seed", type=int, default=0, help="seed of the patient split")
    pn.add_argument("--sets", nargs="+", metavar="SET", help="keep only these challenge sets (e.g. a): train on one, validate externally on another")
    pn.add_argument("--overwrite", action="store_true", help="replace an existing bundle (only once the new one is complete)")
    pn.add_argument("--quiet", action="store_true", help="no progress bar")
    pn.set_defaults(func=_cmd_data_physionet2012)

    vend = data.add_parser("vendor-physionet2012", help="(maintainers) rewrite the compact Parquet copy in assets/data/physionet2012")
    vend.add_argument("--source", type=Path, required=True, help="the PhysioNet 2012 directory or .tar.gz")
    vend.add_argument("--out", type=Path, required=True)
    vend.set_defaults(func=_cmd_data_vendor_physionet2012)

    mm = data.add_parser("mimic", help="build a cohort from your MIMIC-IV (+ MIMIC-IV-ECG) copy, out of core")
    mm.add_argument("--mimic-dir", type=Path, required=True, help="folder with hosp/ and icu/ (.csv.gz, .csv or .parquet)")
    mm.add_argument("--ecg-dir", type=Path, default=None, help="MIMIC-IV-ECG folder with record_list.csv and files/")
    mm.add_argument("--out", type=Path, required=True)
    mm.add_argument("--window-hours", type=int, default=24, help="observation window from ICU admission (default 24)")
    mm.add_argument("--min-los-hours", type=float, default=None, help="minimum stay length (default: the window)")
    mm.add_argument("--min-age", type=int, default=18)
    mm.add_argument("--all-stays", action="store_true", help="keep every eligible stay, not only each patient's first")
    mm.add_argument("--ecg-before-hours", type=float, default=12.0, help="accept ECGs from this long before ICU admission; they always end at the window's end")
    mm.add_argument("--memory-limit", default="1GB", help="DuckDB memory limit (it spills to disk beyond)")
    mm.add_argument("--threads", type=int, default=2)
    mm.add_argument("--overwrite", action="store_true")
    mm.add_argument("--quiet", action="store_true")
    mm.set_defaults(func=_cmd_data_mimic)

    tr = sub.add_parser("train", help="train LeMoF (three stages), an ablation or a baseline, and write a run directory")
    tr.add_argument("--data", type=Path, required=True, help="cohort bundle directory")
    tr.add_argument("--fusion", default=None, help=f"fusion method (default lemof): {', '.join(FUSIONS)}")
    tr.add_argument("--encoders", default=None, help="EHR+biosignal encoders (default gru+resnet1d); EHR: gru, transformer, tcn; biosignal: resnet1d, transformer, tcn")
    tr.add_argument("--out", type=Path, required=True, help="run directory to create")
    tr.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    tr.add_argument("--seed", type=int, default=None)
    tr.add_argument("--config", help="JSON file of training options (see lemof/runs/train_config.py)")
    tr.add_argument("--epochs-stage1", dest="epochs_stage1", type=int, default=None)
    tr.add_argument("--epochs-stage3", dest="epochs_stage3", type=int, default=None)
    tr.add_argument("--batch-size", dest="batch_size", type=int, default=None)
    tr.add_argument("--lr", type=float, default=None, help="learning rate")
    tr.add_argument("--finetune-encoders", dest="finetune_encoders", action="store_const", const=True, default=None,
                    help="LeMoF: stage 3 also trains the stage-1 encoders and heads on the raw inputs (default: frozen, on cached tokens)")
    tr.add_argument("--finetune-lr-scale", dest="finetune_lr_scale", type=float, default=None,
                    help="with --finetune-encoders: their learning rate as a share of --lr (default 0.1)")
    tr.add_argument("--tabular-head", dest="tabular_head", action="store_const", const=True, default=None,
                    help="LeMoF: add a LightGBM head on per-stay summaries (fitted on training stays only) to the meta-learner's heads")
    tr.add_argument("--overwrite", action="store_true", help="replace an existing run (only once the new one is complete)")
    tr.add_argument("--quiet", action="store_true", help="no progress bars")
    tr.add_argument("--progress-file", dest="progress_file", type=Path, default=None, help="also write the progress (stage, epoch, losses, ETA) to this JSON file, atomically")
    tr.set_defaults(func=_cmd_train)

    ev = sub.add_parser("evaluate", help="print a run's metrics on a cohort split as JSON")
    ev.add_argument("--run", type=Path, required=True)
    ev.add_argument("--data", type=Path, required=True)
    ev.add_argument("--split", default="test", choices=["test", "val", "train", "all"], help="all: external validation on another cohort")
    ev.add_argument("--stored", action="store_true", help="score the run's stored predictions (its own cohort) instead of running its model (network or gbm trees)")
    ev.set_defaults(func=_cmd_evaluate)

    ex = sub.add_parser("explain", help="print a stay's prediction and every explanation that applies to the run as JSON (several --stay: a JSON list, one process)")
    ex.add_argument("--run", type=Path, required=True)
    ex.add_argument("--data", type=Path, required=True)
    ex.add_argument("--stay", required=True, action="append", help="stay id (repeat for several; every id is checked before any work)")
    ex.add_argument("--per-head", action="store_true", help="include every attention head, not only the average")
    ex.set_defaults(func=_cmd_explain)
    sm = sub.add_parser("similar", help="print the most similar training stays of one or more stays as JSON")
    sm.add_argument("--run", type=Path, required=True)
    sm.add_argument("--data", type=Path, required=True)
    sm.add_argument("--stay", required=True, action="append", help="stay id (repeat for several stays, answered in one process)")
    sm.add_argument("--k", type=int, default=10, help="neighbours per stay (default 10)")
    sm.set_defaults(func=_cmd_similar)
    pc = sub.add_parser("precompute", help="store what the case review's first screen needs (stay vectors; drivers and ECG measurements) in a LeMoF run")
    pc.add_argument("--run", type=Path, required=True)
    pc.add_argument("--data", type=Path, required=True, help="the cohort the run was trained on")
    pc.add_argument("--reasons", choices=("test", "val", "train", "all", "none"), default="test",
                    help="the split whose drivers and ECG measurements are stored (stay_reasons.json.gz; ~1 s a stay on one core; default test)")
    pc.add_argument("--skip-vectors", action="store_true", help="keep the stored stay vectors as they are")
    pc.set_defaults(func=_cmd_precompute)
    cc = sub.add_parser("concepts", help="probe what each level of a LeMoF run encodes and store it (level_concepts.json) in the run; no retraining")
    cc.add_argument("--run", type=Path, required=True)
    cc.add_argument("--data", type=Path, required=True, help="the cohort the run was trained on")
    cc.add_argument("--bootstrap", type=int, default=200, help="bootstrap resamples of the CI (default 200)")
    cc.set_defaults(func=_cmd_concepts)
    rp = sub.add_parser("report", help="write one stay's case review as a self-contained HTML file (opens offline)")
    rp.add_argument("--run", type=Path, required=True)
    rp.add_argument("--data", type=Path, required=True)
    rp.add_argument("--stay", required=True, help="stay id")
    rp.add_argument("--out", type=Path, required=True, help="the .html file to write")
    rp.add_argument("--outcomes", action="store_true", help="a retrospective review: show the observed LOS and the error (hidden by default, as on the page)")
    rp.set_defaults(func=_cmd_report, out_is_file=True)

    au = sub.add_parser("audit", help="check, export or rotate the audit log (who viewed which stay, reports, training jobs, sign-ins)").add_subparsers(dest="action", required=True)
    av = au.add_parser("verify", help="check the hash chain: exit 0 if intact, 2 naming the first bad line")
    av.add_argument("--log", type=Path, nargs="+", action="extend", metavar="PATH",
                    help="log file(s) (default $LEMOF_AUDIT_LOG or <cache>/audit/audit.jsonl); several, oldest first: rotated files must continue each other")
    av.set_defaults(func=_cmd_audit_verify)
    ae = au.add_parser("export", help="print the entries since a date as CSV (for the information-governance office)")
    ae.add_argument("--since", required=True, help="YYYY-MM-DD (from midnight UTC) or an ISO date and time")
    ae.add_argument("--user", default=None, help="only this user's entries")
    ae.add_argument("--log", type=Path, nargs="+", action="extend", metavar="PATH", help="log file(s), oldest first, as for verify")
    ae.add_argument("--unverified", action="store_true", help="export even if the log does not verify (a warning says so)")
    ae.set_defaults(func=_cmd_audit_export)
    ar = au.add_parser("rotate", help="move the log aside (timestamped) and start a new one that continues its chain")
    ar.add_argument("--log", type=Path, default=None, help="log file (default as for verify)")
    ar.set_defaults(func=_cmd_audit_rotate)

    db = sub.add_parser("db", help="create, migrate or inspect the review database ($LEMOF_DATABASE_URL, else a SQLite file in the cache)").add_subparsers(dest="action", required=True)
    du = db.add_parser("upgrade", help="create or migrate the schema (prints before -> after)")
    du.add_argument("--url", default=None, help="database URL (default $LEMOF_DATABASE_URL, else sqlite:///<cache>/reviews/reviews.db)")
    du.add_argument("--revision", default="head", help="schema revision to migrate to (default head)")
    du.set_defaults(func=_cmd_db_upgrade)
    dc = db.add_parser("current", help="print the schema revision the database is at")
    dc.add_argument("--url", default=None, help="database URL (default as for upgrade)")
    dc.set_defaults(func=_cmd_db_current)

    rv = sub.add_parser("review", help="record a clinician's review of a stay, or export the reviews").add_subparsers(dest="action", required=True)
    ra = rv.add_parser("add", help="save USER's review of a stay (a second add by the same user updates it, keeping the history); prints it as JSON")
    ra.add_argument("--run", type=Path, required=True)
    ra.add_argument("--data", type=Path, required=True)
    ra.add_argument("--stay", required=True, help="stay id")
    ra.add_argument("--user", required=True, help="the reviewer (e-mail address as signed in)")
    ra.add_argument("--verdict", required=True, choices=["agree", "partly", "disagree"], help="on the model's prediction")
    ra.add_argument("--estimate-days", dest="estimate_days", type=float, default=None, help="the reviewer's own estimate of the LOS (days)")
    ra.add_argument("--note", default="", help="free text (at most 4000 characters)")
    ra.add_argument("--rating", action="append", metavar="EXPLANATION=RATING",
                    help="drivers, ecg or similar = useful, not_useful or misleading (repeat for several)")
    ra.add_argument("--url", default=None, help="database URL (default $LEMOF_DATABASE_URL, else the SQLite file in the cache)")
    ra.set_defaults(func=_cmd_review_add)
    rx = rv.add_parser("export", help="print the reviews (changed since a date) as CSV, or write them as CSV or Parquet")
    rx.add_argument("--since", default=None, help="YYYY-MM-DD (from midnight UTC) or an ISO date and time (default: every review)")
    rx.add_argument("--format", choices=["csv", "parquet"], default="csv")
    rx.add_argument("--out", type=Path, default=None, help="the file to write (default: CSV on stdout; Parquet needs it)")
    rx.add_argument("--url", default=None, help="database URL (default as for add)")
    rx.set_defaults(func=_cmd_review_export, out_is_file=True)

    ecg = sub.add_parser("ecg", help="read and measure ECG records").add_subparsers(dest="action", required=True)
    em = ecg.add_parser("measure", help="read a WFDB record (any rate, leads, length) and print its R peaks and measurements "
                        "(rate, RR irregularity, P waves, PR, QRS, QT/QTc Fridericia, ST at J+60 ms per lead, axis, lead quality)")
    em.add_argument("--record", type=Path, required=True, help="the WFDB record (path without extension, or its .hea)")
    em.add_argument("--json", action="store_true", help="print JSON {record, fs_hz, leads, beats, measurements} instead of a summary")
    em.add_argument("--window", type=float, nargs=2, metavar=("START", "END"), default=None,
                    help="measure over this window (seconds from the start; default the whole record); beats always cover the whole record")
    em.set_defaults(func=_cmd_ecg_measure)

    sv = sub.add_parser("serve", help="start the app, refusing a non-loopback address without sign-in (docs/DEPLOY.md)")
    sv.add_argument("--address", default="127.0.0.1", help="address to bind (default 127.0.0.1; another needs [auth] or LEMOF_BEHIND_AUTH_PROXY=1)")
    sv.add_argument("--port", type=int, default=8501)
    sv.add_argument("--secrets", type=Path, action="append", help="secrets.toml to use (default: ~/.streamlit/secrets.toml, then .streamlit/secrets.toml of the app)")
    sv.add_argument("--check", action="store_true", help="only check the settings and print what would be served, as JSON")
    sv.set_defaults(func=_cmd_serve)
    return p


def _check_outputs(args: argparse.Namespace) -> None:
    """Refuse an output path that cannot be written (``OutputError``) before the command's work:
    ``--out`` (a folder to create, or the report's file) and ``train --progress-file``."""
    if getattr(args, "out", None) is not None:
        file = getattr(args, "out_is_file", False)
        check_writable(args.out, what="the output file" if file else "the output folder", file=file)
    if getattr(args, "progress_file", None) is not None:
        check_writable(args.progress_file, what="the progress file", file=True)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        _check_outputs(args)
        return int(args.func(args))
    except (LemofError, FileExistsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
