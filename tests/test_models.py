"Fast checks of the model contract in `vcc.models` (the notebook holds the full story and tests)."
import numpy as np, pandas as pd, scipy.sparse as sp
import pytest
from vcc.data import simulate, CONTROL_LABEL, PERT_COL
from vcc.models import (TrainingSet, CellMeanBaseline, ControlModel, PerturbationMeanModel, LinearModel,
                        KernelRidgeModel, KNNModel, CoexpressionModel, TunedModel, AdjustedModel, scale_to_mean, cells_from_pseudobulk,
                        CELL_RULES, response_gene_embedding, disperse_response, response_dispersion)

@pytest.fixture(scope='module')
def screen():
    scr = simulate(n_genes=300, n_train=20, n_val=5, n_test=1, n_control=300, cells_per_pert=40, seed=3)
    return scr, TrainingSet.from_adata(scr.training)

def test_training_set(screen):
    scr, tr = screen
    assert len(tr.perts) == 20 and tr.controls.n_obs == 300 and tr.deltas().shape == (20, 300)
    assert sp.issparse(tr.controls.X) and tr.controls.X.dtype == np.float32
    np.testing.assert_allclose(np.asarray(tr.controls.X.mean(0)).ravel(), tr.control_mean(), atol=1e-5)
    assert tr.subset(tr.perts[:4]).perts == tr.perts[:4]

@pytest.mark.parametrize('model', [CellMeanBaseline(), ControlModel(), PerturbationMeanModel(True), LinearModel(),
                                   LinearModel(embedding='controls'), KernelRidgeModel(), KNNModel(), CoexpressionModel(),
                                   CoexpressionModel(top=None, base='mean', gain=2),
                                   TunedModel(CoexpressionModel, {'gain': [1.0, 2.0]}, n_folds=2),
                                   KernelRidgeModel(features='response'), KernelRidgeModel(features='both'), KNNModel(features='both'),
                                   AdjustedModel('kernel_ridge', cell_rule='dispersion', dispersion=0.5),
                                   AdjustedModel(LinearModel(), knockdown=False)], ids=lambda m: repr(m))
def test_contract(screen, model):
    scr, tr = screen
    genes = scr.pert_counts('validation').target_gene.tolist()
    pb = model.fit(tr).predict_pseudobulk(genes)
    assert pb.shape == (len(genes), 300) and np.isfinite(pb).all() and (pb >= 0).all()
    np.testing.assert_allclose(model.predict_pseudobulk(genes), pb)  # deterministic
    pc = pd.DataFrame({PERT_COL: genes[:2], 'n_cells': [7, 5]})
    cells = model.predict_cells(pc)
    assert cells.shape == (12 + 300, 300) and list(cells.var_names) == list(tr.var_names)
    assert cells.obs[PERT_COL].tolist() == [genes[0]] * 7 + [genes[1]] * 5 + [CONTROL_LABEL] * 300

def test_scale_to_mean_hits_target():
    rng = np.random.default_rng(0)
    X = sp.random(200, 50, density=0.5, format='csr', random_state=0, dtype=np.float32); X.data = np.log1p(X.data * 10)
    target = np.asarray(X.mean(0)).ravel() * rng.uniform(0.2, 3, 50)
    Y = scale_to_mean(X, target, max_fold=np.inf, max_value=np.inf)   # the guard off: the mean is hit exactly
    np.testing.assert_allclose(np.asarray(Y.mean(0)).ravel(), target, atol=1e-5)
    assert (Y != 0).nnz == (X != 0).nnz
    Yc = scale_to_mean(X, target)                                       # the guard on (default): never above the target, never >= 15
    mean_c = np.asarray(Yc.mean(0)).ravel()
    assert (mean_c <= target + 1e-5).all() and Yc.max() < 15
    uncapped = np.asarray(Y.max(0).toarray()).ravel() <= np.log1p(20 * np.expm1(np.asarray(X.max(0).toarray()).ravel())) - 1e-3
    np.testing.assert_allclose(mean_c[uncapped], target[uncapped], atol=1e-5)  # genes within 20x are still hit exactly

def test_rules(screen):
    scr, tr = screen
    pb = PerturbationMeanModel(True).fit(tr).predict_pseudobulk(['x'])
    for rule in CELL_RULES: assert cells_from_pseudobulk(tr.controls, ['x'], pb, [4], rule=rule).n_obs == 304
    with pytest.raises(ValueError): cells_from_pseudobulk(tr.controls, ['x'], pb, [4], rule='nope')

def test_tuned_choice(screen):
    "TunedModel refits the setting its inner CV picked; the guard keeps it ahead of the baseline's MAE when any setting is."
    scr, tr = screen
    tm = TunedModel(CoexpressionModel, {'gain': [0.5, 1.0, 3.0], 'top': [20, None]}, n_folds=3).fit(tr)
    assert tm.cv_.shape == (7, 3) and set(tm.best_params_) == {'gain', 'top'}
    base = tm.cv_.loc['cell_mean_baseline', 'mae']
    if (tm.cv_.mae.drop('cell_mean_baseline') < base).any():
        import json
        assert tm.cv_.loc[json.dumps(tm.best_params_), 'mae'] < base
    np.testing.assert_allclose(tm.predict_deltas(['a']), CoexpressionModel(**tm.best_params_).fit(tr).predict_deltas(['a']))

def test_gene_embedding(screen, tmp_path):
    "An external gene-embedding file: read, checked, its coverage reported, and used by the models that take it."
    from vcc.data import DataError
    from vcc.models import read_gene_embedding, embedding_coverage, align_gene_embedding, target_features
    scr, tr = screen
    genes = list(tr.var_names[::2]) + ['UNMEASURED']  # half the screen and one gene outside it
    tab = pd.DataFrame(np.random.default_rng(0).standard_normal((len(genes), 6)), index=genes)
    tab.rename_axis('symbol').to_csv(tmp_path/'emb.tsv', sep='\t')
    got = read_gene_embedding(tmp_path/'emb.tsv')
    assert got.shape == (len(genes), 6) and list(got.index) == genes
    np.testing.assert_array_equal(got.to_numpy(), tab.to_numpy())
    cov = embedding_coverage(got, tr.var_names, {'training targets': tr.perts, 'other': ['UNMEASURED', 'NONE']})
    assert cov.loc['screen genes', 'with vector'] == 150 and cov.loc['other', 'not measured, with vector'] == 1
    E, found = align_gene_embedding(got, tr.var_names)
    assert E.shape == (300, 6) and found.sum() == 150 and (E[~found] == 0).all()
    assert target_features(tr, ['UNMEASURED'], 10, gene_embedding=got).shape == (1, 13 + 7)
    for m in (CoexpressionModel(gene_embedding=str(tmp_path/'emb.tsv')), LinearModel(embedding=got)):
        pb = m.fit(tr).predict_pseudobulk(['UNMEASURED', tr.perts[0]])
        assert pb.shape == (2, 300) and np.isfinite(pb).all() and (pb >= 0).all()
    (tmp_path/'dup.csv').write_text('gene,a\nX,1\nX,2\n')
    with pytest.raises(DataError, match='more than once'): read_gene_embedding(tmp_path/'dup.csv')
    (tmp_path/'text.csv').write_text('gene,a\nX,b\n')
    with pytest.raises(DataError, match='no numeric columns'): read_gene_embedding(tmp_path/'text.csv')

def test_target_features(screen):
    "Kernel ridge / kNN on the screen's own response features: a training target's own knockdown is left out of them; an external table reaches unmeasured targets."
    scr, tr = screen
    R = response_gene_embedding(tr, 5)
    assert R.shape == (300, 5) and np.isfinite(R).all()
    p0 = next(p for p in tr.perts if p in tr.var_names)
    st = tr.stats.copy(); st.X[st.obs_names.get_loc(p0), tr.var_names.get_loc(p0)] *= 50   # a stronger knockdown of its own target
    np.testing.assert_allclose(response_gene_embedding(TrainingSet(st, tr.controls), 5), R, atol=1e-10)
    kr = KernelRidgeModel(n_components=5, ridge=1e-8, knockdown=False, features='both').fit(tr)
    np.testing.assert_allclose(kr.predict_deltas([tr.perts[3]])[0], tr.deltas()[3], atol=1e-4)   # interpolates its training targets
    tab = pd.DataFrame(R, index=tr.var_names); tab.loc['UNMEASURED'] = tab.loc[tr.perts[3]]
    nn = KNNModel(n_neighbors=1, ridge=0, knockdown=False, features='embedding', gene_embedding=tab).fit(tr)
    np.testing.assert_allclose(nn.predict_deltas(['UNMEASURED'])[0], tr.deltas()[3], atol=1e-9)
    with pytest.raises(ValueError, match='go together'): KNNModel(features='embedding')
    with pytest.raises(ValueError, match='use one of'): KernelRidgeModel(features='pathways')

def test_dispersion(screen):
    "Rule 'dispersion': the cells still average to the pseudobulk, each cell's response varies; the spread is learned from the screen's cells."
    scr, tr = screen
    X = tr.controls.X[:200]
    target = np.asarray(X.mean(0)).ravel() * np.where(np.arange(300) % 5 == 0, 1.6, 1.0)
    ok = (np.asarray((X > 0).mean(0)).ravel() > 0.3) & (target < 4)   # (a very high gene may meet the ceiling of log1p values)
    Y = disperse_response(X, target, 1.0, np.random.default_rng(0))
    np.testing.assert_allclose(np.asarray(Y.mean(0)).ravel()[ok], target[ok], atol=1e-4)
    moved = np.flatnonzero(ok & (np.arange(300) % 5 == 0))
    spread = lambda Z: np.asarray((Z - X)[:, moved].mean(1)).ravel().std()
    assert spread(Y) > 2 * spread(scale_to_mean(X, target))
    d = response_dispersion(scr.training, tr)
    assert np.isfinite(d) and d >= 0
    m = AdjustedModel('kernel_ridge', cell_rule='dispersion', dispersion='learned', cells=scr.training).fit(tr)
    assert m.cell_dispersion_ == d and m.predict_cells(pd.DataFrame({PERT_COL: ['x'], 'n_cells': [6]})).n_obs == 306
    with pytest.raises(ValueError, match='cells='): AdjustedModel('linear', dispersion='learned')

def test_family_presets(tmp_path):
    "The family's presets train by name into a run folder and load back to the same prediction."
    from vcc.train import PRESETS, train_run, load_run, build_model
    from vcc.data import simulate
    small = dict(n_genes=200, n_train=12, n_val=3, n_test=1, n_control=200, cells_per_pert=30, seed=1)
    tr = TrainingSet.from_adata(simulate(**small).training)
    for name, features in (('kernel_ridge_response', 'response'), ('knn_both', 'both')):
        assert build_model(name).features == features
        run = train_run(name, {}, {'simulate': small}, runs_dir=tmp_path/'runs', seed=0)
        np.testing.assert_allclose(load_run(run).predict_pseudobulk([tr.perts[0], 'x']), build_model(name).fit(tr).predict_pseudobulk([tr.perts[0], 'x']))

@pytest.mark.parametrize('regime', ['network', 'predictable'])
def test_regime_oracles(regime):
    "On each further regime the oracle told direction and strength predicts held-out changes better than the perturbation mean."
    from vcc.regimes import simulate_regime, OracleModel
    scr = simulate_regime(regime, n_genes=400, n_train=16, n_val=6, n_test=1, n_control=300, cells_per_pert=60, seed=2)
    tr, truth = TrainingSet.from_adata(scr.training), TrainingSet.from_adata(scr.truth['validation'])
    val = truth.perts
    real = np.asarray(truth.stats[val].X) - truth.control_mean()
    err = lambda m: np.abs(m.fit(tr).predict_deltas(val) - real).mean()
    assert err(OracleModel(scr.model, 'strength')) < err(PerturbationMeanModel())
