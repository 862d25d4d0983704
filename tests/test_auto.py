"`auto` (vcc.auto.AutoModel) through a training run, and on a backed h5ad: the inner folds read only the rows they score."
import numpy as np, pandas as pd, anndata as ad
from vcc.data import simulate
from vcc.models import TrainingSet
from vcc.auto import AutoModel

CANDS = {'pert_mean+kd': ['pert_mean', {'knockdown': True}], 'linear': ['linear', {'n_components': 4}]}

def test_auto_in_a_run(tmp_path):
    "`auto` trains into a run folder by name (raw cells handed over by the preset) and loads back with its inner leaderboard."
    from vcc.train import train_run, load_run
    data = {'simulate': dict(n_genes=300, n_train=12, n_val=3, n_test=1, n_control=200, cells_per_pert=30, seed=5)}
    run = train_run('auto', {'candidates': CANDS, 'n_folds': 2}, data, runs_dir=tmp_path)
    m = load_run(run)
    lb = m.leaderboard_.set_index('model')
    assert len(lb) == 2 + 3 + 1 and lb.chosen.sum() == 1    # 2 candidates, 3 blends of them (halves and thirds), the baseline
    near = lb[lb.score >= lb.score.iloc[0] - lb.gap_se]
    assert m.choice_ in near.index and lb.members[m.choice_] == near.members.min()   # the simplest entry within one standard error of the best
    assert set(m.fitted_) <= set(CANDS) and np.isfinite(m.predict_pseudobulk(['G_UNSEEN'])).all()
    scored = lb.dropna(subset=['score_lo'])
    assert (scored.score_lo <= scored.score).all() and (scored.score <= scored.score_hi).all()
    saved = pd.read_csv(run/'auto_leaderboard.csv')   # why it chose, readable in the run folder without unpickling
    assert saved.model.tolist() == m.leaderboard_.model.tolist() and m.choice_ in (run/'report.md').read_text()

def test_auto_reads_a_backed_screen(tmp_path):
    "Handed the screen as a backed h5ad (rows read on demand), `auto` makes the same choice and leaderboard as in memory."
    scr = simulate(n_genes=300, n_train=12, n_val=3, n_test=1, n_control=300, cells_per_pert=40, seed=6)
    path = tmp_path/'train.h5ad'
    scr.training.write_h5ad(path)
    train = TrainingSet.from_adata(scr.training)
    kw = dict(candidates=CANDS, n_folds=2, repeats=1, max_cells=25, max_controls=150)
    mem = AutoModel(cells=scr.training, **kw).fit(train)
    backed = AutoModel(cells=ad.read_h5ad(path, backed='r'), **kw).fit(train)
    assert backed.choice_ == mem.choice_
    pd.testing.assert_frame_equal(backed.leaderboard_.drop(columns='fit_seconds'), mem.leaderboard_.drop(columns='fit_seconds'))
    assert (mem.results_.groupby('model').size() == 12).all()    # each knockdown scored once per entry, on at most 25 of its 40 cells
