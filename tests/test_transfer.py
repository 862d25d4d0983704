"Transfer models of the 2026 edition (issue 24): behind the 2026 model contract (vcc.submit2026's CV and submission draw their cells), they beat the context-mean baseline on a held-out context with the exact 2026 score; auto chooses by leave-one-context-out on the references only; public-screen statistics fit the same models as cells."
import numpy as np, pandas as pd, pytest, anndata as ad
from vcc.schema import CONTROL_LABEL
from vcc.contexts import context_adata
from vcc.submit2026 import ContextMeanBaseline, cross_validate_2026, summarise_cv_2026, StandinScore
from vcc.public_screens import screens_stats
from vcc.transfer import (multi_context_screen, AdditiveTransfer, SimilarityTransfer, KnockdownTransfer, AutoTransfer, ContextOracle,
                          make_auto_2026, predict_context_cells, context_reference, score_prediction, evaluate_transfer, summarise_transfer)

SIZE = dict(n_genes=500, n_perts=16, cells_per_pert=200, n_control=800, seed=0)

@pytest.fixture(scope='module')
def screen():
    rc = multi_context_screen('programs', **SIZE)
    return rc, {c: context_adata(rc.screen, c) for c in rc.contexts}

def test_contract_through_submit2026_cv(screen):
    rc, cells = screen
    train = ad.concat(list(cells.values()), index_unique='-')
    cv = cross_validate_2026(train, AdditiveTransfer, kinds=('leave_context_out',), cells=100, score=StandinScore(n_replicates=1))
    board = summarise_cv_2026(cv, StandinScore(n_replicates=1), n_boot=20)
    assert set(cv.table.context) == set(rc.contexts) and np.isfinite(board.s).all()

def test_transfer_beats_context_mean_on_a_held_out_context(screen):
    rc, cells = screen
    held = 'C1'
    train = ad.concat([cells[c] for c in rc.contexts if c != held], index_unique='-')
    real = cells[held]; lab = real.obs.target_gene.astype(str).to_numpy()
    ref = context_reference(real)
    targets = sorted(set(lab) - {CONTROL_LABEL})
    score = {}
    for name, model in [('context_mean', ContextMeanBaseline()), ('additive', AdditiveTransfer()), ('similarity', SimilarityTransfer()),
                        ('knockdown', KnockdownTransfer()), ('oracle', ContextOracle(rc, 'all'))]:
        X, labels = predict_context_cells(model.fit(train), real.X[lab == CONTROL_LABEL], targets, held, cells=200)
        assert X.shape == (200 * len(targets), real.n_vars) and (X.data == np.round(X.data)).all()   # raw counts
        score[name] = score_prediction(X, labels, ref)[2]
    assert score['additive'] > score['context_mean'] + 0.1 and score['similarity'] > score['context_mean'] + 0.1
    assert score['oracle'] > score['additive']      # told the whole effect: above any transfer (the shared part alone is not: a sibling's private part transfers too)

def test_auto_chooses_on_the_references_only(screen):
    rc, cells = screen
    train = ad.concat([cells[c] for c in ('C2', 'C3', 'C4')], index_unique='-')
    auto = make_auto_2026(candidates={'context_mean': ContextMeanBaseline, 'additive': AdditiveTransfer}, cells=100).fit(train)
    assert set(auto.leaderboard_.context) == {'C2', 'C3', 'C4'}             # never the context it will predict
    assert auto.chosen_ == auto.leaderboard_.groupby('model').score.mean().idxmax() == 'additive'
    cm = np.asarray(cells['C1'].X[(cells['C1'].obs.target_gene == CONTROL_LABEL).to_numpy()].mean(0)).ravel()
    np.testing.assert_allclose(auto.predict_scale(cm, rc.screen.perts[:3]), AdditiveTransfer().fit(train).predict_scale(cm, rc.screen.perts[:3]))

def test_fits_on_public_screen_statistics_as_on_cells(screen):
    rc, cells = screen
    train = ad.concat([cells[c] for c in ('C2', 'C3', 'C4')], index_unique='-')
    cm = np.asarray(cells['C1'].X[(cells['C1'].obs.target_gene == CONTROL_LABEL).to_numpy()].mean(0)).ravel()
    a = SimilarityTransfer().fit(train).predict_scale(cm, rc.screen.perts)
    b = SimilarityTransfer().fit(screens_stats(train)).predict_scale(cm, rc.screen.perts)
    np.testing.assert_allclose(a, b, rtol=1e-9)

def test_missing_genes_of_a_screen_are_not_zero_effects(screen):
    rc, cells = screen
    train = ad.concat([cells[c] for c in ('C2', 'C3')], index_unique='-')
    stats = screens_stats(train)
    gone = stats['C3'].genes[:50]
    stats['C3'].sums[:, :50] = np.nan; stats['C3'].control_sums[:50] = np.nan; stats['C3'].missing[:50] = True
    stats['C3'].half_sums[:, :50] = np.nan
    cm = np.asarray(cells['C1'].X[(cells['C1'].obs.target_gene == CONTROL_LABEL).to_numpy()].mean(0)).ravel()
    only_c2 = AdditiveTransfer(alpha=1.0, lams=(0.0,), ranks=(0,)).fit({'C2': stats['C2']}).predict_scale(cm, rc.screen.perts)
    both = AdditiveTransfer(alpha=1.0, lams=(0.0,), ranks=(0,)).fit(stats).predict_scale(cm, rc.screen.perts)
    np.testing.assert_allclose(both[:, :50], only_c2[:, :50], rtol=1e-9)    # where C3 did not measure, C2 alone speaks
    assert not np.allclose(both[:, 50:], only_c2[:, 50:])

def test_learned_two_cpu_processes_agree_with_one(screen):
    "The Lightning model under DDP on two CPU processes (gloo) learns what one process learns from the same seed; the caller's environment is left as it was."
    import os
    rc, cells = screen
    train = ad.concat([cells[c] for c in ('C2', 'C3', 'C4')], index_unique='-')
    env = dict(os.environ)
    from vcc.transfer import LearnedTransfer
    two = LearnedTransfer(epochs=15, devices=2).fit(train)
    assert dict(os.environ) == env
    one = LearnedTransfer(epochs=15).fit(train)
    assert len(two.losses_) == 15 and two.losses_[-1] < two.losses_[0]
    cm = np.asarray(cells['C1'].X[(cells['C1'].obs.target_gene == CONTROL_LABEL).to_numpy()].mean(0)).ravel()
    np.testing.assert_allclose(two.predict_scale(cm, rc.screen.perts), one.predict_scale(cm, rc.screen.perts), rtol=1e-4)
