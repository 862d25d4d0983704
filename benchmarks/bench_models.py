"""Fit and predict time and peak RSS of each model on a full-size-shaped training set: 18,080 genes,
150 training perturbations, control cells at ~50k UMI. Each model runs in its own process, so its
peak RSS is its own (it includes loading the prepared `TrainingSet`, shown as the `load` row).

The `TrainingSet` is prepared once and pickled (not timed per model):
- `--source full` (default when data/bench/full/adata_Training.h5ad exists, see bench_data.py):
  `TrainingSet.from_adata(path, max_controls=...)`, streaming the 13 GB file;
- `--source simulate`: `vcc.data.simulate` at full gene count with fewer cells (`--controls`, 40 cells
  per perturbation), for machines without the file.

Prediction: `predict_pseudobulk` of 50 unseen targets, and `predict_cells` of 5 targets x 200 cells.
Prints a table (and JSON with --json); asserts nothing.

    .venv/bin/python benchmarks/bench_models.py --controls 10000
    flock /tmp/vcc_heavy.lock .venv/bin/python benchmarks/bench_models.py --source full --controls 38176 --cache /tmp/vcc_bench_models_full38k.pkl   # ~8 GB
    .venv/bin/python benchmarks/bench_models.py --source simulate --controls 5000 --models linear,cell_transition
"""
import argparse, json, pickle, resource, subprocess, sys, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
from vcc.train import PRESETS  # the settings the leaderboard and the CLI know by name
FULL = ROOT/'data'/'bench'/'full'/'adata_Training.h5ad'
ENSEMBLE = {'members': {'pert_mean+kd': ['pert_mean', {'knockdown': True}], 'linear': ['linear', {}], 'kernel_ridge': ['kernel_ridge', {}]}, 'n_folds': 3}
MODELS = {'cell_mean': ('cell_mean', {}), 'pert_mean+kd': ('pert_mean', {'knockdown': True}), 'linear': ('linear', {}),
          'kernel_ridge': ('kernel_ridge', {}), 'knn': ('knn', {}), 'cell_transition': ('cell_transition', {}),
          'ensemble': ('ensemble', ENSEMBLE), 'coexpression': ('coexpression', {}),
          'coexpression_tuned': PRESETS['coexpression_tuned'],
          'cell_transition_tuned': ('cell_transition_tuned', {}), 'cell_transition_bag': ('cell_transition_bag', {})}  # presets

def rss_gb(): return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2)

def prepare(source, controls, out):
    "Build the TrainingSet once and pickle it."
    from vcc.models import TrainingSet
    t = time.perf_counter()
    if source == 'full': ts = TrainingSet.from_adata(FULL, max_controls=controls)
    else:
        from vcc.data import simulate
        ts = TrainingSet.from_adata(simulate(n_genes=18_080, n_train=150, n_val=50, n_test=1, n_control=controls, cells_per_pert=40, median_umi=50_000, seed=0).training)
    with open(out, 'wb') as f: pickle.dump(ts, f, protocol=5)
    return dict(step='prepare', source=source, genes=len(ts.var_names), perts=len(ts.perts), controls=ts.controls.n_obs,
                nnz_per_control=round(ts.controls.X.nnz / ts.controls.n_obs), wall_s=round(time.perf_counter() - t, 1), peak_rss_gb=rss_gb())

def bench(name, ts_path):
    "Load, fit, predict one model; times and peak RSS."
    import numpy as np, pandas as pd
    from vcc.train import build_model
    from vcc.data import PERT_COL
    t = time.perf_counter()
    with open(ts_path, 'rb') as f: ts = pickle.load(f)
    load_s, load_rss = time.perf_counter() - t, rss_gb()
    if name == 'load': return dict(model='load', load_s=round(load_s, 1), peak_rss_gb=load_rss)
    held = [g for g in ts.var_names[::97] if g not in set(ts.perts)][:50]   # 50 genes never perturbed in training
    m = build_model(*MODELS[name])
    t = time.perf_counter(); m.fit(ts); fit_s = time.perf_counter() - t
    t = time.perf_counter(); pb = m.predict_pseudobulk(held); pb_s = time.perf_counter() - t
    t = time.perf_counter(); cells = m.predict_cells(pd.DataFrame({PERT_COL: held[:5], 'n_cells': 200})); cells_s = time.perf_counter() - t
    assert pb.shape == (50, len(ts.var_names)) and np.isfinite(pb).all()
    return dict(model=name, load_s=round(load_s, 1), fit_s=round(fit_s, 2), predict_pseudobulk_50_s=round(pb_s, 2),
                predict_cells_5x200_s=round(cells_s, 2), peak_rss_gb=rss_gb())

def in_subprocess(*args):
    out = subprocess.run([sys.executable, __file__, *args], check=True, stdout=subprocess.PIPE, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])

if __name__ == '__main__':
    p = argparse.ArgumentParser()
    p.add_argument('--source', choices=['full', 'simulate'], default='full' if FULL.exists() else 'simulate')
    p.add_argument('--controls', type=int, default=10_000, help='control cells kept (the challenge has 38,176)')
    p.add_argument('--models', default=','.join(MODELS))
    p.add_argument('--cache', type=Path, default=Path('/tmp/vcc_bench_models_trainingset.pkl'), help='pickled TrainingSet (reused if present)')
    p.add_argument('--json', action='store_true')
    p.add_argument('--_prepare', action='store_true', help=argparse.SUPPRESS); p.add_argument('--_model', help=argparse.SUPPRESS)
    a = p.parse_args()
    if a._prepare: print(json.dumps(prepare(a.source, a.controls, a.cache))); sys.exit(0)
    if a._model: print(json.dumps(bench(a._model, a.cache))); sys.exit(0)
    if not a.cache.exists():
        prep = in_subprocess('--_prepare', '--source', a.source, '--controls', str(a.controls), '--cache', str(a.cache))
        print('prepared:', json.dumps(prep), flush=True)
    else: print(f'reusing {a.cache}', flush=True)
    rows = []
    for name in ['load'] + a.models.split(','):
        rows.append(in_subprocess('--_model', name, '--cache', str(a.cache))); print(json.dumps(rows[-1]), flush=True)
    import pandas as pd
    print(pd.DataFrame(rows).to_string(index=False))
    if a.json: print(json.dumps(rows))
