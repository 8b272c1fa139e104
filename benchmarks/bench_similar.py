"""Are the similar stays similar? Each representation/metric of ``lemof.explain.similar``, on the
shipped LeMoF runs' stored stay vectors (synthetic and PhysioNet 2012):

- spread: over stays, the range (max - min) of the 10 neighbours' similarities, and of their
  percentiles among random training pairs;
- LOS: the median observed LOS of the 10 neighbours as a prediction of the stay's LOS, MAE
  against 10 random training stays (each stay's random error averaged over 20 draws), paired
  bootstrap 95 % CI of the difference (random - neighbours; > 0: the neighbours are better);
- synthetic only: how often a neighbour shares the stay's true causes (``latent_causes.parquet``:
  each binary cause, and the dominant cause, the largest |log-LOS part|), against random
  training stays, paired bootstrap CI of the difference;
- float16: the stored vectors perturbed by another float16 rounding (uniform, half an ulp):
  how many of the 10 neighbours stay the same, per metric.

The metric is chosen on the **validation** split (lowest neighbour-median MAE, averaged over
the two cohorts); the test split reports every metric.

    OMP_NUM_THREADS=1 python -m benchmarks.bench_similar
"""

from __future__ import annotations

import numpy as np
from benchmarks._common import save
from testkit.paths import REPO

K = 10
RANDOM_DRAWS = 20
CAUSES = ("infection", "af", "ischaemia", "wide_qrs", "elective")


def neighbours(index, queries: np.ndarray, query_ids: np.ndarray, k: int = K) -> tuple[np.ndarray, np.ndarray]:
    """(n, k) neighbour positions in the index and their similarities, each query's own id excluded."""
    from lemof.models.representation import unit_rows  # lazy: as the benchmark's other imports

    q = index.transform(unit_rows(queries, np.float64))
    sims = index._score(q, index.space)
    sims[query_ids[:, None] == index.stay_ids[None, :]] = -np.inf
    top = np.argsort(-sims, axis=1, kind="stable")[:, :k]
    return top, np.take_along_axis(sims, top, axis=1)


def paired(a: np.ndarray, b: np.ndarray) -> dict:
    from lemof.evaluation.stats import paired_bootstrap

    out = paired_bootstrap(a, b)
    return {k: (round(float(v), 4) if isinstance(v, (float, np.floating)) else v) for k, v in out.items()}


def evaluate(index, vectors, ids, los, train_pos_los, split_rows, rng, causes=None) -> dict:
    q, qid = vectors[split_rows], ids[split_rows]
    top, sims = neighbours(index, q, qid)
    truth = los[split_rows]
    nb_err = np.abs(np.median(train_pos_los[top], axis=1) - truth)
    n_train = len(index.stay_ids)
    rand = rng.integers(0, n_train, size=(len(q), RANDOM_DRAWS, K))
    rand_err = np.abs(np.median(train_pos_los[rand], axis=2) - truth[:, None]).mean(axis=1)
    pct = index.percentile(sims.ravel()).reshape(sims.shape)
    out = {
        "stays": int(len(q)),
        "components_kept": index.components_kept,
        "top10_similarity_median": round(float(np.median(sims)), 4),
        "top10_similarity_range_median": round(float(np.median(sims.max(1) - sims.min(1))), 4),
        "nearest_percentile_median": round(float(np.median(pct[:, 0])), 2),
        "tenth_percentile_median": round(float(np.median(pct[:, -1])), 2),
        "tenth_percentile_p05_p95": [round(float(v), 2) for v in np.percentile(pct[:, -1], [5, 95])],
        "mae_neighbours_days": round(float(nb_err.mean()), 3),
        "mae_random_days": round(float(rand_err.mean()), 3),
        "mae_random_minus_neighbours": paired(rand_err, nb_err),
    }
    if causes is not None:
        c = causes.set_index("stay_id")
        train_c = c.loc[index.stay_ids]
        own = c.loc[qid]
        shared = {}
        for name in CAUSES + ("dominant",):
            tv = train_c[name].to_numpy()
            ov = own[name].to_numpy()
            nb_agree = (tv[top] == ov[:, None]).mean(axis=1)
            rd_agree = (tv[rand.reshape(len(q), -1)] == ov[:, None]).mean(axis=1)
            shared[name] = {
                "neighbours": round(float(nb_agree.mean()), 4),
                "random": round(float(rd_agree.mean()), 4),
                "neighbours_minus_random": paired(-nb_agree, -rd_agree),  # err_a - err_b with err = -agreement
            }
        out["shares_true_causes"] = shared
    return out


def float16_stability(index_cls, metric, train_vectors, train_ids, queries, query_ids, rng) -> float:
    """Mean overlap of the 10 neighbours after one more float16-sized rounding of every vector."""
    base = index_cls.fit(train_ids, train_vectors, metric)
    top, _ = neighbours(base, queries, query_ids)

    def jitter(x):
        return (x * (1 + rng.uniform(-2.0**-11, 2.0**-11, size=x.shape))).astype(np.float32)

    other = index_cls.fit(train_ids, jitter(train_vectors), metric)
    top2, _ = neighbours(other, jitter(queries), query_ids)
    return round(float(np.mean([len(set(a) & set(b)) / K for a, b in zip(top, top2)])), 4)


def dominant_cause(causes):
    parts = [c for c in causes.columns if c.startswith("log_los_part_") and c not in ("log_los_part_noise", "log_los_part_age")]
    causes = causes.copy()
    causes["dominant"] = np.array([p.removeprefix("log_los_part_") for p in parts])[np.argmax(np.abs(causes[parts].to_numpy()), axis=1)]
    return causes


def main() -> None:
    from lemof import load_run, open_bundle
    from lemof.data.synthetic import ensure_synthetic
    from lemof.explain.similar import METRICS, SimilarityIndex
    from lemof.runs.catalog import physionet_cohort_dir

    cohorts = {
        "synthetic": (REPO / "assets/models/synthetic-gru+resnet1d", ensure_synthetic()),
        "physionet2012": (REPO / "assets/models/physionet2012-gru+resnet1d", physionet_cohort_dir()),
    }
    result: dict = {"k": K, "random_draws_per_stay": RANDOM_DRAWS, "metrics": list(METRICS), "cohorts": {}}
    for name, (run_dir, data_dir) in cohorts.items():
        run, bundle = load_run(run_dir), open_bundle(data_dir)
        stored, index_of = run.stored_stay_vectors()
        assert stored is not None, f"{run_dir} has no stored stay vectors"
        stays = bundle.stays
        pos = np.array([index_of[int(s)] for s in stays["stay_id"]])
        vectors, ids, los = stored.representation[pos], stays["stay_id"].to_numpy(), stays["los_days"].to_numpy()
        train, val, test = (bundle.rows(s) for s in ("train", "val", "test"))
        causes = bundle.latent_causes()
        causes = dominant_cause(causes) if causes is not None else None
        per = {"run": run.run_id, "stays": {"train": len(train), "val": len(val), "test": len(test)}, "val": {}, "test": {}, "float16_top10_overlap": {}}
        for metric in METRICS:
            index = SimilarityIndex.fit(ids[train], vectors[train], metric)
            for split, rows in (("val", val), ("test", test)):
                per[split][metric] = evaluate(index, vectors, ids, los, los[train], rows, np.random.default_rng(0), causes)
            per["float16_top10_overlap"][metric] = float16_stability(SimilarityIndex, metric, vectors[train], ids[train], vectors[test], ids[test], np.random.default_rng(1))
            print(name, metric, per["val"][metric]["mae_neighbours_days"], per["test"][metric]["mae_neighbours_days"], flush=True)
        result["cohorts"][name] = per
    val_mae = {m: float(np.mean([result["cohorts"][c]["val"][m]["mae_neighbours_days"] for c in cohorts])) for m in METRICS}
    result["chosen_on_validation"] = {"metric": min(val_mae, key=val_mae.get), "mean_val_mae_neighbours_days": {m: round(v, 3) for m, v in val_mae.items()}}
    save("similar_stays", result)


if __name__ == "__main__":
    main()
