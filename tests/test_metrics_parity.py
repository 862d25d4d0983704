"Parity of `vcc.metrics` with the installed cell-eval 0.8.2 / pdex 0.3 (run for real on small random screens)."
import json, logging, os, subprocess, sys
import numpy as np, pandas as pd, polars as pl, scipy.sparse as sp, anndata as ad
import pytest
from scipy.stats import mannwhitneyu, false_discovery_control
from cell_eval import MetricsEvaluator, build_base_mean_adata, score_agg_metrics
from vcc.metrics import (PERT_COL, CONTROL, synthetic_screen, score_prediction, normalise_log1p, de_table,
                         cell_mean_baseline, combined_score, aggregate)

logging.getLogger('cell_eval').setLevel(logging.ERROR)
pytestmark = pytest.mark.filterwarnings('ignore')


def cell_eval_vcc(pred, real, outdir):
    "cell-eval's `vcc` profile on copies (it normalises in place): per-perturbation results and agg table, as pandas."
    ev = MetricsEvaluator(pred.copy(), real.copy(), control_pert=CONTROL, pert_col=PERT_COL, num_threads=1, outdir=str(outdir))
    res, agg = ev.compute(profile='vcc', write_csv=False, break_on_error=True)
    return res.to_pandas().set_index('perturbation'), agg


def assert_parity(pred, real, outdir):
    ce, ce_agg = cell_eval_vcc(pred, real, outdir)
    res, agg = score_prediction(pred, real, fdr_scope='per_perturbation', fold_change_clip=None)  # the installed pdex 0.3's rules
    res = res.set_index('perturbation')
    assert list(res.index) == list(ce.index)
    np.testing.assert_allclose(res['mae'], ce['mae'], atol=1e-6, rtol=0)
    np.testing.assert_allclose(res['discrimination_score_l1'], ce['discrimination_score_l1'], atol=1e-6, rtol=0)
    np.testing.assert_array_equal(res['overlap_at_N'].values, ce['overlap_at_N'].values)
    assert list(agg.columns) == list(ce_agg.columns)
    return res, agg, ce_agg


def with_ties(pred):
    "Round log1p values to halves: many exact ties inside and across groups."
    pred = pred.copy()
    pred.X.data = np.round(pred.X.data * 2) / 2 + 0.25 * (pred.X.data > 0)
    pred.X.eliminate_zeros()
    return pred


@pytest.mark.parametrize('shape', [dict(n_perts=12, cells_per_pert=50, n_control=200, n_genes=500, seed=3),
                                   dict(n_perts=5, cells_per_pert=80, n_control=120, n_genes=1500, seed=4, pred_log1p=False),
                                   dict(n_perts=30, cells_per_pert=20, n_control=60, n_genes=300, seed=5)])
def test_vcc_profile_parity(shape, tmp_path):
    pred, real = synthetic_screen(**shape)
    res, _, _ = assert_parity(pred, real, tmp_path)
    assert res['overlap_at_N'].max() > 0, 'dataset should have real and predicted DE genes'


def test_log1p_real_and_dense_pred(tmp_path):
    "Real already log1p (no normalisation), prediction dense integer counts."
    pred, real = synthetic_screen(n_perts=6, cells_per_pert=40, n_control=100, n_genes=400, seed=6, pred_log1p=False)
    real = normalise_log1p(real)
    pred = ad.AnnData(np.asarray(pred.X.todense()).astype(np.int64), obs=pred.obs, var=pred.var)
    assert_parity(pred, real, tmp_path)


def test_ties_silent_genes_and_empty_de(tmp_path):
    pred, real = synthetic_screen(n_perts=8, cells_per_pert=40, n_control=150, n_genes=400, seed=7)
    pred = with_ties(pred)
    labels = real.obs[PERT_COL].to_numpy()
    X = real.X.tolil()
    a = np.sort(np.unique(labels[labels != CONTROL]))[0]
    X[np.flatnonzero(labels == a), 10:30] = 0          # a perturbation where no cell expresses genes 10-29
    X[:, 40] = 0                                       # a gene silent everywhere
    # a perturbation with 3 cells drawn like controls: its real DE set is empty
    ctrl = np.flatnonzero(labels == CONTROL)[:3]
    X = X.tocsr()
    real = ad.AnnData(sp.vstack([X, X[ctrl]], format='csr'), var=real.var,
                      obs=pd.DataFrame({PERT_COL: np.r_[labels, ['G99999'] * 3]}, index=[f'c{i}' for i in range(len(labels) + 3)]))
    pred = ad.concat([pred, pred[pred.obs[PERT_COL] == CONTROL][:3]], index_unique='-')
    pred.obs.loc[pred.obs_names[-3:], PERT_COL] = 'G99999'
    real_de = de_table(normalise_log1p(real), fdr_scope='per_perturbation')
    assert not (real_de[real_de.target == 'G99999'].fdr < 0.05).any(), 'the 3-cell perturbation should have no real DE gene'
    res, _, _ = assert_parity(pred, real, tmp_path)
    assert res.loc['G99999', 'overlap_at_N'] == 0


def test_global_fdr_scope_against_scipy():
    "fdr_scope='global': BH over the whole perturbation x gene table, checked against scipy directly."
    pred, real = synthetic_screen(n_perts=5, cells_per_pert=30, n_control=60, n_genes=120, seed=8)
    def silence(a):  # genes 0-4 silent in the first perturbation, gene 5 silent in the controls: the zero-mean fold-change rules
        lab = a.obs[PERT_COL].to_numpy(); X = a.X.tolil()
        X[np.flatnonzero(lab == np.unique(lab[lab != CONTROL])[0]), :5] = 0; X[np.flatnonzero(lab == CONTROL), 5] = 0
        return ad.AnnData(X.tocsr(), obs=a.obs, var=a.var)
    pred, real = silence(pred), silence(real)
    tabs = {}
    for name, a in (('pred', pred), ('real', normalise_log1p(real))):
        X = np.asarray(a.X.todense()); lab = a.obs[PERT_COL].to_numpy()
        perts = np.unique(lab[lab != CONTROL]); c = X[lab == CONTROL]
        p = np.array([[mannwhitneyu(X[lab == q, j], c[:, j], method='asymptotic').pvalue for j in range(X.shape[1])] for q in perts])
        p = np.nan_to_num(p, nan=1.0)
        fdr = false_discovery_control(p.ravel()).reshape(p.shape)
        # pdex 0.1.x's fold change, as the 2025 leaderboard used it: 0/0 -> 1, silent control -> 20, silent perturbation -> 1/20
        tgt, ref = np.stack([np.expm1(X[lab == q].mean(0)) for q in perts]), np.broadcast_to(np.expm1(c.mean(0)), (len(perts), X.shape[1]))
        with np.errstate(divide='ignore', invalid='ignore'):
            fc = np.where((tgt == 0) & (ref == 0), 1.0, np.where(ref == 0, 20.0, np.where(tgt == 0, 1 / 20, tgt / ref)))
        lfc = np.log2(fc)
        assert np.isclose(np.abs(lfc), np.log2(20)).sum() >= 5, 'the test data should exercise the zero-mean rules'
        tab = de_table(a, fdr_scope='global')
        np.testing.assert_allclose(tab.p_value.values.reshape(p.shape), p, rtol=1e-5, atol=1e-12)
        np.testing.assert_allclose(tab.fdr.values.reshape(p.shape), fdr, rtol=1e-5, atol=1e-12)  # scipy's normal tail differs ~1e-6 deep in the tail
        np.testing.assert_allclose(tab.log2_fold_change.values.reshape(p.shape), lfc, rtol=1e-4, atol=2e-5)  # pdex means are float32
        tabs[name] = (perts, fdr, lfc, a.var_names.to_numpy())
    per = de_table(normalise_log1p(real), fdr_scope='per_perturbation').fdr.values
    assert not np.allclose(per, tabs['real'][1].ravel()), 'the two scopes should differ'
    # DES from the scipy tables, written out directly
    (perts, fp, lp, genes), (_, fr, lr, _) = tabs['pred'], tabs['real']
    expect = []
    for i in range(len(perts)):
        top = lambda f, l: genes[f[i] < 0.05][np.argsort(-np.abs(l[i][f[i] < 0.05]), kind='stable')]
        r, q = top(fr, lr), top(fp, lp)
        expect.append(len(set(r) & set(q[:len(r)])) / len(r) if len(r) else 0.0)
    got, _ = score_prediction(pred, real, fdr_scope='global')
    np.testing.assert_allclose(got['overlap_at_N'].values, expect)


def test_baseline_and_combined_score(tmp_path):
    pred, real = synthetic_screen(n_perts=10, cells_per_pert=40, n_control=150, n_genes=400, seed=9)
    train, _ = synthetic_screen(n_perts=15, cells_per_pert=40, n_control=200, n_genes=400, seed=10, pred_log1p=False)
    train.var_names = real.var_names
    labels = real.obs[PERT_COL]
    counts = labels[labels != CONTROL].value_counts().rename_axis(PERT_COL).reset_index(name='n_cells')
    ours = cell_mean_baseline(train, counts)
    theirs = build_base_mean_adata(train.copy(), counts_df=pl.from_pandas(counts), pert_col=PERT_COL, control_pert=CONTROL)
    assert list(ours.obs[PERT_COL].astype(str)) == list(theirs.obs[PERT_COL].astype(str))
    assert list(ours.obs_names) == list(theirs.obs_names)
    dense = lambda X: np.asarray(X.todense()) if sp.issparse(X) else np.asarray(X)
    # cell-eval averages the group means in polars' group_by order, which changes from run to run (no maintain_order), so its
    # float32 mean moves by a few ulps between its own runs; allow what any order of the
    # n_groups-term float32 sum can give, (n_groups - 1) eps relative, and no more
    n_groups = train.obs[PERT_COL].nunique()
    np.testing.assert_allclose(dense(ours.X), dense(theirs.X), rtol=(n_groups - 1) * np.finfo(np.float32).eps, atol=0)
    # the controls in the real file must be the training controls for cell-eval: use the real file's controls
    base_res, base_agg, base_ce_agg = assert_parity(theirs, real, tmp_path / 'base')
    user_res, user_agg, user_ce_agg = assert_parity(pred, real, tmp_path / 'user')
    ce_score = score_agg_metrics(user_ce_agg, base_ce_agg).to_pandas()
    ours_score = combined_score(user_agg, base_agg)
    assert list(ours_score.metric) == list(ce_score.metric)
    np.testing.assert_allclose(ours_score.from_baseline, ce_score.from_baseline, atol=1e-6)
    np.testing.assert_allclose(aggregate(user_res.reset_index()).drop(columns='statistic').values,
                               user_ce_agg.to_pandas().drop(columns='statistic').values, atol=1e-6)


def test_bad_input_messages():
    pred, real = synthetic_screen(n_perts=3, cells_per_pert=10, n_control=20, n_genes=50, seed=11)
    bad = pred.copy(); bad.X.data[0] = np.nan
    with pytest.raises(ValueError, match='NaN'): score_prediction(bad, real)
    mixed = pred.copy(); mixed.X.data[:5] = 40.5
    with pytest.raises(ValueError, match='mixed'): score_prediction(mixed, real)
    last = pred.obs[PERT_COL].iloc[-1]
    with pytest.raises(ValueError, match='only in real'): score_prediction(pred[pred.obs[PERT_COL] != last].copy(), real)
    with pytest.raises(ValueError, match='no control'): score_prediction(pred[pred.obs[PERT_COL] != CONTROL].copy(), real)
    with pytest.raises(ValueError, match='genes differ'): score_prediction(pred[:, 1:].copy(), real)
    shuffled = pred[:, np.random.default_rng(0).permutation(pred.n_vars)].copy()
    a, _ = score_prediction(shuffled, real); b, _ = score_prediction(pred, real)
    pd.testing.assert_frame_equal(a, b)


def write(a, path):
    a.write_h5ad(path)
    return str(path)


def test_h5ad_paths_match_anndata(tmp_path):
    "Scoring h5ad paths (streamed in row chunks) gives exactly the AnnData results: log1p or count predictions, int or float64 storage, permuted genes, shuffled cells, tiny chunks."
    pred, real = synthetic_screen(n_perts=6, cells_per_pert=40, n_control=100, n_genes=300, seed=12)
    counts, _ = synthetic_screen(n_perts=6, cells_per_pert=40, n_control=100, n_genes=300, seed=12, pred_log1p=False)
    rng = np.random.default_rng(0)
    shuffled_real = real[rng.permutation(real.n_obs)].copy()
    permuted = pred[:, rng.permutation(pred.n_vars)].copy()
    as_int = ad.AnnData(counts.X.astype(np.int32), obs=counts.obs, var=counts.var)
    as_f64 = ad.AnnData(pred.X.astype(np.float64), obs=pred.obs, var=pred.var)
    for kw in (dict(fdr_scope='per_perturbation', fold_change_clip=None), dict()):
        for p, r in ((pred, real), (counts, real), (permuted, shuffled_real), (as_int, real), (as_f64, shuffled_real)):
            want, want_agg = score_prediction(p, r, **kw)
            for chunk_nnz in (1 << 21, 5000):
                got, got_agg = score_prediction(write(p, tmp_path / 'p.h5ad'), write(r, tmp_path / 'r.h5ad'), chunk_nnz=chunk_nnz, **kw)
                pd.testing.assert_frame_equal(got, want, check_exact=True)
                pd.testing.assert_frame_equal(got_agg, want_agg, check_exact=True)


def test_bad_input_from_files(tmp_path):
    "The same clear errors when the inputs are h5ad files, whichever chunk holds the bad value."
    pred, real = synthetic_screen(n_perts=3, cells_per_pert=30, n_control=40, n_genes=200, seed=13)
    r = write(real, tmp_path / 'r.h5ad')
    def score(p, chunk_nnz=2000): return score_prediction(write(p, tmp_path / 'p.h5ad'), r, chunk_nnz=chunk_nnz)
    for which in (0, -1):  # first chunk, last chunk
        for value, match in ((np.nan, 'NaN'), (np.inf, 'NaN or Inf'), (-0.5, 'negative'), (40.5, 'mixed')):
            bad = pred.copy(); bad.X.data[which] = value
            with pytest.raises(ValueError, match=f'pred: .*{match}'): score(bad)
            bad_counts = real.copy(); bad_counts.X.data[which] = value   # a count file: caught by the totals pass
            with pytest.raises(ValueError, match=f'pred: .*{match}'): score(bad_counts)
    with pytest.raises(ValueError, match='genes differ'): score(pred[:, 1:].copy())
    with pytest.raises(ValueError, match='no control'): score(pred[pred.obs[PERT_COL] != CONTROL].copy())
    with pytest.raises(ValueError, match='not found'): score_prediction(str(tmp_path / 'missing.h5ad'), r)
    unlabelled = pred.copy(); unlabelled.obs[PERT_COL] = unlabelled.obs[PERT_COL].astype('category')
    unlabelled.obs.iloc[-1, unlabelled.obs.columns.get_loc(PERT_COL)] = np.nan  # a missing category: code -1 in the h5ad
    with pytest.raises(ValueError, match=r"pred: obs\['target_gene'\] has missing or empty labels"): score(unlabelled)


def test_more_bad_input():
    "Every bad-input case of issue #4 gives a ValueError naming the problem and the fix."
    pred, real = synthetic_screen(n_perts=3, cells_per_pert=10, n_control=20, n_genes=50, seed=11)
    extra = pred.copy(); extra.obs[PERT_COL] = extra.obs[PERT_COL].astype(str)
    extra.obs.iloc[-1, extra.obs.columns.get_loc(PERT_COL)] = 'G99999'
    with pytest.raises(ValueError, match=r"only in pred \['G99999'\].*predict exactly the real perturbations"): score_prediction(extra, real)
    with pytest.raises(ValueError, match='real: no control cells.*include the non-targeting cells'):
        score_prediction(pred, real[real.obs[PERT_COL] != CONTROL].copy())
    inf = pred.copy(); inf.X.data[0] = np.inf
    with pytest.raises(ValueError, match='pred: X contains NaN or Inf: replace them'): score_prediction(inf, real)
    neg = pred.copy(); neg.X.data[0] = -1.0
    with pytest.raises(ValueError, match='pred: X has negative values'): score_prediction(neg, real)
    nolab = pred.copy(); nolab.obs = nolab.obs.rename(columns={PERT_COL: 'gene'})
    with pytest.raises(ValueError, match=f"pred: obs has no column '{PERT_COL}'"): score_prediction(nolab, real)
    dup = pred.copy(); dup.var_names = ['G00000'] * 2 + list(dup.var_names[2:])
    with pytest.raises(ValueError, match='gene names are not unique'): score_prediction(dup, real)
    with pytest.raises(ValueError, match='fdr_scope'): score_prediction(pred, real, fdr_scope='per_gene')
    with pytest.raises(TypeError, match='AnnData or an h5ad path'): score_prediction(pred.X, real)


def test_h5ad_scoring_imports_pandas_only_for_its_tables(tmp_path):
    "`import vcc.metrics` leaves pandas (and anndata) unloaded, so h5ad scoring starts its kernels at once; the results are still DataFrames."
    import subprocess, sys, textwrap
    pred, real = synthetic_screen(n_perts=3, cells_per_pert=20, n_control=30, n_genes=100, seed=14)
    p, r = write(pred, tmp_path / 'p.h5ad'), write(real, tmp_path / 'r.h5ad')
    want, _ = score_prediction(pred, real)
    child = textwrap.dedent(f"""
        import sys, vcc.metrics as m
        print('pandas' in sys.modules, 'anndata' in sys.modules)
        res, agg = m.score_prediction({p!r}, {r!r})
        print(type(res).__name__, type(agg).__name__)
        res.to_csv({str(tmp_path / 'res.csv')!r}, index=False)
        """)
    out = subprocess.run([sys.executable, '-c', child], capture_output=True, text=True, check=True).stdout.split('\n')
    assert out[:2] == ['False False', 'DataFrame DataFrame']
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / 'res.csv'), want, check_exact=False, atol=1e-12)


PROCESS_STATE = """
import sys, gc, atexit, json, os, numba, numba.np.linalg as linalg
from numba.core import config
hooks, _register = [], atexit.register
def _noting(f, *a, **k):  # exit hooks registered from now on; third-party ones (colorama, multiprocessing) are theirs, not vcc's
    hooks.append(f'{getattr(f, "__module__", None)}.{getattr(f, "__qualname__", f)}'); return _register(f, *a, **k)
atexit.register = _noting
def state():
    return dict(layer=config.THREADING_LAYER, gc=gc.isenabled(), thresholds=list(gc.get_threshold()), freeze=gc.get_freeze_count(),
                switch=sys.getswitchinterval(), blas_probe=linalg.ensure_blas.__qualname__,
                vcc_or_gc_exit_hooks=[h for h in hooks if h.startswith(('vcc', 'gc.', 'None.freeze'))])
"""

def test_import_and_score_leave_the_process_alone(tmp_path):
    "`import vcc.metrics` and scoring (AnnData and h5ad sides) change no process-wide setting; `fast_process` puts back what it changed."
    child = PROCESS_STATE + f"""
before = state()
import vcc.metrics as m, vcc.score_engine as e
after_import = state()
p, r = m.synthetic_screen(3, 20, 30, 100, seed=1)
m.score_prediction(p, r); p.write_h5ad('{tmp_path}/p.h5ad'); r.write_h5ad('{tmp_path}/r.h5ad')
m.score_prediction('{tmp_path}/p.h5ad', '{tmp_path}/r.h5ad', rules='installed')
after_score = state()
patched = [k.__name__ for k in e._KERNELS if 'load_overload' in vars(getattr(k, '_cache', None) or object())]
with m.fast_process():
    inside = state()
    m.score_prediction('{tmp_path}/p.h5ad', '{tmp_path}/r.h5ad')
after_fast = state()
patched_after = [k.__name__ for k in e._KERNELS if 'load_overload' in vars(getattr(k, '_cache', None) or object())]
print(json.dumps(dict(before=before, after_import=after_import, after_score=after_score, inside=inside, after_fast=after_fast,
                      patched=patched, patched_after=patched_after)))
"""
    env = {k: v for k, v in os.environ.items() if k != 'NUMBA_THREADING_LAYER'}
    out = json.loads(subprocess.run([sys.executable, '-c', child], capture_output=True, text=True, check=True, env=env).stdout.splitlines()[-1])
    before = out['before']
    assert out['after_import'] == before, 'importing vcc.metrics changed process-wide state'
    assert out['after_score'] == before, 'scoring changed process-wide state'
    assert out['patched'] == [], 'numba cache loaders patched outside fast_process'
    assert out['inside']['layer'] == 'workqueue' and out['inside']['gc'] is False  # what the context is for
    assert out['after_fast'] == before and out['patched_after'] == [], 'fast_process did not restore what it changed'
