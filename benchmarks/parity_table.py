"""The parity table of issue 21: `vcc.metrics.score_prediction` against the real references, run for real, on small cases of REAL
cells (the Papalexi 2021 screen in ../shared/data) of every kind a competitor or a cheat would submit.

Columns: each kind of prediction x {cell-eval 0.6.6 + pdex 0.1.27 (the 2025 leaderboard's scorer, in .venv-ref066, built by
`./run ref066`) against vcc's 2025 rules; the installed cell-eval 0.8.2 (pdex 0.3) against vcc's `installed` rules; cell-eval2
0.20.0's `v1` preset against cell-eval 0.6.6} -> the largest per-perturbation |difference| of each metric, whether DES is identical
per perturbation and whether the combined score (against the cell-mean baseline case, scored by each scorer itself) is identical.

    .venv/bin/python benchmarks/parity_table.py                   # 10 perturbations x 60 cells x 299 genes, 200 controls
    .venv/bin/python benchmarks/parity_table.py --perts 10 --cells 30 --controls 60 --seed 1 --out parity.csv

Each reference runs once, in its own process, over all the cases (its import is the slow part). `tests/test_reference_parity.py`
runs the same and asserts the table.
"""
import argparse, json, os, subprocess, sys, tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAPALEXI = ROOT.parent / 'shared' / 'data' / 'papalexi2021_thp1_eccite.h5ad'
METRICS = ['overlap_at_N', 'mae', 'discrimination_score_l1']
KINDS = ['resampled', 'noisy', 'control_mean', 'pseudobulk_rows', 'control_copies', 'silent_pred_genes', 'silent_real_genes',
         'rounded', 'counts', 'scale3x', 'shuffled']
BASELINE = 'baseline'  # the cell-mean baseline of the held-out cells: every scorer's combined score is against its own score of it


STRONG = ('IFNGR1', 'IFNGR2', 'JAK2', 'SMAD4', 'STAT1')  # knockouts with real DE genes at these sizes: DES is then not 0 everywhere

def make_cases(outdir, path=PAPALEXI, n_perts=10, n_cells=60, n_control=200, seed=0):
    """Write the cases' h5ads into `outdir`: {kind: (pred path, real path, pred path for cell-eval, which needs the real gene order)}.
    Real files hold raw counts (cell-eval normalises them); predictions are log1p like a prepped submission unless the kind says not."""
    import numpy as np, pandas as pd, scipy.sparse as sp, anndata as ad
    from vcc.metrics import normalise_log1p, cell_mean_baseline, PERT_COL, CONTROL
    outdir = Path(outdir); outdir.mkdir(parents=True, exist_ok=True)
    src = ad.read_h5ad(path)
    labels = src.obs['perturbation'].astype(str).to_numpy()
    rng = np.random.default_rng(seed)
    sizes = pd.Series(labels[labels != CONTROL]).value_counts()
    pool = np.setdiff1d(sizes[sizes >= 3 * n_cells].index.to_numpy(), STRONG)
    perts = np.sort(np.r_[list(STRONG[:n_perts]), rng.choice(pool, max(n_perts - len(STRONG), 0), replace=False)])
    def take(group, n, exclude=()):  # n cells of a group, not among `exclude`
        idx = np.setdiff1d(np.flatnonzero(labels == group), exclude)
        return np.sort(rng.choice(idx, n, replace=False))
    real_idx = {g: take(g, n_control if g == CONTROL else n_cells) for g in [CONTROL, *perts]}
    pred_idx = {g: take(g, n_control if g == CONTROL else n_cells, real_idx[g]) for g in [CONTROL, *perts]}
    train_idx = {g: take(g, n_cells, np.r_[real_idx[g], pred_idx[g]]) for g in [CONTROL, *perts]}
    genes = src.var_names.astype(str)
    def counts(idx):
        order = np.concatenate([idx[g] for g in [CONTROL, *perts]])
        X = sp.csr_matrix(src.X[order], dtype=np.float32)
        obs = pd.DataFrame({PERT_COL: labels[order]}, index=[f'c{i}' for i in range(len(order))])
        return ad.AnnData(X, obs=obs, var=pd.DataFrame(index=genes))
    real, pred_counts = counts(real_idx), counts(pred_idx)
    pred = normalise_log1p(pred_counts)
    is_ctl = pred.obs[PERT_COL].to_numpy() == CONTROL
    def with_rows(a, rows):  # `a` with its perturbed cells' rows replaced by `rows` (dense, log1p)
        X = a.X.toarray(); X[~is_ctl] = rows
        return ad.AnnData(sp.csr_matrix(X), obs=a.obs.copy(), var=a.var.copy())
    dense = pred.X.toarray()
    lab = pred.obs[PERT_COL].to_numpy()
    real_log = normalise_log1p(real).X.toarray(); real_lab = real.obs[PERT_COL].to_numpy()
    cases = {}
    cases['resampled'] = (pred, real)
    noisy = pred.copy(); noisy.X.data = np.clip(noisy.X.data + rng.normal(0, 0.3, noisy.X.nnz).astype(np.float32), 0, None)
    cases['noisy'] = (noisy, real)
    cases['control_mean'] = (with_rows(pred, np.tile(dense[is_ctl].mean(0, dtype=np.float32), ((~is_ctl).sum(), 1))), real)
    bulk = {g: real_log[real_lab == g].mean(0, dtype=np.float32) for g in perts}
    cases['pseudobulk_rows'] = (with_rows(pred, np.stack([bulk[g] for g in lab[~is_ctl]])), real)
    cases['control_copies'] = (with_rows(pred, dense[is_ctl][rng.integers(0, is_ctl.sum(), (~is_ctl).sum())]), real)
    silent = dense.copy(); silent[np.ix_(~is_ctl, rng.choice(len(genes), 30, replace=False))] = 0
    cases['silent_pred_genes'] = (ad.AnnData(sp.csr_matrix(silent), obs=pred.obs.copy(), var=pred.var.copy()), real)
    rX = real.X.toarray()
    rX[:, rng.choice(len(genes), 5, replace=False)] = 0                       # genes silent in every real cell
    for g in perts[:3]: rX[np.ix_(real_lab == g, rng.choice(len(genes), 20, replace=False))] = 0  # and in some perturbations
    cases['silent_real_genes'] = (pred, ad.AnnData(sp.csr_matrix(rX), obs=real.obs.copy(), var=real.var.copy()))
    rounded = pred.copy(); rounded.X.data = np.round(rounded.X.data * 2) / 2; rounded.X.eliminate_zeros()
    rounded.X.data = rounded.X.data + np.float32(0.25)  # fractional, so it stays log1p; many exact ties
    cases['rounded'] = (rounded, real)
    cases['counts'] = (pred_counts, real)
    scaled = pred.copy(); scaled.X.data = scaled.X.data * np.float32(3)
    if scaled.X.data.max() >= 15: raise ValueError('3x log1p values reach 15: cell-eval would refuse the case')
    cases['scale3x'] = (scaled, real)
    gperm, rperm = rng.permutation(len(genes)), rng.permutation(pred.n_obs)
    cases['shuffled'] = (pred[rperm][:, gperm].copy(), real[rng.permutation(real.n_obs)].copy())
    train = counts(train_idx)
    counts_df = pd.DataFrame({PERT_COL: perts, 'n_cells': n_cells})
    base = cell_mean_baseline(train, counts_df)
    base = ad.AnnData(sp.csr_matrix(base.X, dtype=np.float32), obs=base.obs[[PERT_COL]], var=pd.DataFrame(index=genes))
    # the baseline's controls are training controls; the real file's controls are what cell-eval compares with: use the real ones
    base = ad.concat([base[base.obs[PERT_COL] != CONTROL], normalise_log1p(real[real.obs[PERT_COL] == CONTROL])], index_unique='-')
    cases[BASELINE] = (base, real)
    out = {}
    for kind, (p, r) in cases.items():
        pp, rp, pc = outdir / f'{kind}.pred.h5ad', outdir / f'{kind}.real.h5ad', outdir / f'{kind}.pred_ordered.h5ad'
        for a in (p, r): a.X.eliminate_zeros()  # pdex 0.3 (cell-eval 0.8.2) refuses stored zeros; they change nothing here
        p.write_h5ad(pp); r.write_h5ad(rp)
        p[:, r.var_names].copy().write_h5ad(pc)  # cell-eval run needs the real gene order (`cell-eval prep` reorders)
        out[kind] = (str(pp), str(rp), str(pc))
    return out


WORKER = r'''
import json, sys, logging, warnings, tempfile
warnings.filterwarnings('ignore'); logging.disable(logging.WARNING)
cases, which, out = json.load(open(sys.argv[1])), sys.argv[2], sys.argv[3]
METRICS = ['overlap_at_N', 'mae', 'discrimination_score_l1']
res, aggs = {}, {}
if which == 'cell-eval':
    import cell_eval
    from cell_eval import MetricsEvaluator, score_agg_metrics
    for kind, (pred, real, pred_ordered) in cases.items():
        with tempfile.TemporaryDirectory() as d:
            ev = MetricsEvaluator(pred_ordered, real, control_pert='non-targeting', pert_col='target_gene', num_threads=1, outdir=d)
            r, a = ev.compute(profile='vcc', write_csv=False, break_on_error=True)
        res[kind] = {row['perturbation']: {m: row[m] for m in METRICS} for row in r.iter_rows(named=True)}
        aggs[kind] = a
    score = {k: float(score_agg_metrics(a, aggs['baseline']).to_pandas().set_index('metric').loc['avg_score', 'from_baseline'])
             for k, a in aggs.items()}
else:
    import cell_eval2
    from cell_eval2 import compute_metrics, EvalConfig
    for kind, (pred, real, pred_ordered) in cases.items():
        df = compute_metrics(pred_ordered, real, config=EvalConfig.v1(), pert_col='target_gene', metrics=METRICS, num_threads=1)
        res[kind] = {}
        for row in df.iter_rows(named=True): res[kind].setdefault(row['perturbation'], {})[row['metric']] = row['value']
    score = {}
json.dump({'results': res, 'score': score}, open(out, 'w'))
'''


def run_reference(python, cases, which, workdir):
    "Run the worker in `python` (a list: the command) over every case: {'results': {kind: {pert: {metric: value}}}, 'score': {kind: avg_score}}."
    workdir = Path(workdir)
    (workdir / 'cases.json').write_text(json.dumps(cases))
    (workdir / 'worker.py').write_text(WORKER)
    out = workdir / f'{which}.json'
    env = {**os.environ, 'PYTHONWARNINGS': 'ignore'}
    p = subprocess.run([*python, str(workdir / 'worker.py'), str(workdir / 'cases.json'), which, str(out)],
                       capture_output=True, text=True, cwd=ROOT, env=env)
    if p.returncode != 0: raise RuntimeError(f'{which} ({python[0]}) failed:\n{p.stdout[-2000:]}\n{p.stderr[-4000:]}')
    return json.loads(out.read_text())


def ref066_python():
    "The command that runs cell-eval 0.6.6's Python, building .venv-ref066 first if needed (`./run ref066`)."
    p = subprocess.run([str(ROOT / 'run'), 'ref066'], capture_output=True, text=True, cwd=ROOT)
    if p.returncode != 0: raise RuntimeError(f'./run ref066 failed:\n{p.stderr[-3000:]}')
    return [str(ROOT / '.venv-ref066' / 'bin' / 'python')]


def vcc_scores(cases, rules):
    "vcc's per-perturbation results and combined score (against the baseline case) under `rules`."
    from vcc.metrics import score_prediction, combined_score
    res, aggs = {}, {}
    for kind, (pred, real, _) in cases.items():
        r, aggs[kind] = score_prediction(pred, real, rules=rules)
        res[kind] = {row['perturbation']: {m: row[m] for m in METRICS} for row in r.to_dict('records')}
    score = {k: float(combined_score(a, aggs[BASELINE]).set_index('metric').loc['avg_score', 'from_baseline']) for k, a in aggs.items()}
    return {'results': res, 'score': score}


def compare(ours, theirs, kinds):
    "Rows of the table: per kind, max |diff| of each metric, DES identical, combined score identical (if both have one)."
    import numpy as np
    rows = []
    for kind in kinds:
        a, b = ours['results'][kind], theirs['results'][kind]
        row = {'kind': kind, 'perturbations_match': sorted(a) == sorted(b)}
        for m in METRICS:
            d = [abs(a[p][m] - b[p][m]) for p in a if p in b and b[p].get(m) is not None]
            row[f'{m}_max_diff'] = max(d) if d else np.nan
        row['des_identical'] = row['perturbations_match'] and all(a[p]['overlap_at_N'] == b[p]['overlap_at_N'] for p in a)
        row['des_differ_in'] = sum(a[p]['overlap_at_N'] != b[p].get('overlap_at_N') for p in a)
        row['des_mean'] = float(np.mean([a[p]['overlap_at_N'] for p in a]))  # the first scorer's: 0 everywhere would prove little
        if kind in ours['score'] and kind in theirs['score']:
            row['score_diff'] = abs(ours['score'][kind] - theirs['score'][kind])
        rows.append(row)
    return rows


def parity_table(workdir, n_perts=10, n_cells=60, n_control=200, seed=0, which=('0.6.6', '0.8.2', 'cell-eval2')):
    "The whole table as a pandas DataFrame (column `reference` says which comparison)."
    import pandas as pd
    cases = make_cases(Path(workdir) / 'cases', n_perts=n_perts, n_cells=n_cells, n_control=n_control, seed=seed)
    kinds = [*KINDS, BASELINE]
    rows, ref066 = [], None
    if '0.6.6' in which or 'cell-eval2' in which:
        ref066 = run_reference(ref066_python(), cases, 'cell-eval', workdir)
    if '0.6.6' in which:
        rows += [{'reference': 'cell-eval 0.6.6 + pdex 0.1.27 vs vcc rules=2025', **r} for r in compare(vcc_scores(cases, '2025'), ref066, kinds)]
    if '0.8.2' in which:
        installed = run_reference([sys.executable], cases, 'cell-eval', workdir)
        rows += [{'reference': 'cell-eval 0.8.2 + pdex 0.3 vs vcc rules=installed', **r} for r in compare(vcc_scores(cases, 'installed'), installed, kinds)]
    if 'cell-eval2' in which:
        v1 = run_reference([sys.executable], cases, 'cell-eval2', workdir)
        rows += [{'reference': 'cell-eval2 0.20.0 v1 vs cell-eval 0.6.6', **r} for r in compare(ref066, v1, kinds)]
        # cell-eval2 normalises a count file to the median total of the REAL control cells (its #155), cell-eval 0.6.6 each file
        # to its own median: given the real file already in log1p space, the two rules meet
        v1_log = run_reference([sys.executable], log1p_real(cases, Path(workdir) / 'cases_log1p_real'), 'cell-eval2', workdir)
        rows += [{'reference': 'cell-eval2 0.20.0 v1 (real file given as log1p) vs cell-eval 0.6.6', **r} for r in compare(ref066, v1_log, kinds)]
    return pd.DataFrame(rows)


def log1p_real(cases, outdir):
    "The cases with each real file replaced by its log1p (vcc's `normalise_log1p`, scanpy's own arithmetic)."
    import anndata as ad
    from vcc.metrics import normalise_log1p
    outdir = Path(outdir); outdir.mkdir(parents=True, exist_ok=True)
    done, out = {}, {}
    for kind, (pred, real, ordered) in cases.items():
        if real not in done:
            done[real] = str(outdir / Path(real).name)
            normalise_log1p(ad.read_h5ad(real)).write_h5ad(done[real])
        out[kind] = (pred, done[real], ordered)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--perts', type=int, default=10); ap.add_argument('--cells', type=int, default=60)
    ap.add_argument('--controls', type=int, default=200); ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--which', nargs='+', default=['0.6.6', '0.8.2', 'cell-eval2'], choices=['0.6.6', '0.8.2', 'cell-eval2'])
    ap.add_argument('--out', default=None, help='also write the table to this CSV')
    args = ap.parse_args()
    if not PAPALEXI.exists(): sys.exit(f'{PAPALEXI} not found: the parity cases are made of its real cells')
    import pandas as pd
    with tempfile.TemporaryDirectory() as d:
        tab = parity_table(d, args.perts, args.cells, args.controls, args.seed, args.which)
    if args.out: tab.to_csv(args.out, index=False)
    with pd.option_context('display.width', 250, 'display.max_columns', 20, 'display.max_rows', 200, 'display.float_format', '{:.3g}'.format):
        for ref, t in tab.groupby('reference', sort=False):
            print(f'\n{ref}'); print(t.drop(columns='reference').to_string(index=False))


if __name__ == '__main__': main()
