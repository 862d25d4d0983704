"""Does shrinking a model's predicted change towards cell-eval's baseline help? Held-out-knockdown K-fold CV (the suite's
folds: `vcc.evaluate.cross_validate`, 4 folds, seed 0) of each --models entry beside its shrunk variants:

    soft λ:  baseline + sign(r) max(|r| - λ, 0), r the predicted change minus the baseline's (small changes, mostly noise, set to it)
    scale α: baseline + α r

The baseline is cell-eval's (the mean of the training group pseudobulks); the knockdown rule is applied after, as the model
does. Prints one leaderboard per data set (score x100 with its interval, MAE, PDS, DES); asserts nothing.

    .venv/bin/python benchmarks/shrink_variants.py --data regime:programs --mode soft --values 0.005,0.01,0.02
    .venv/bin/python benchmarks/shrink_variants.py --data papalexi --mode scale --values 0.75,0.5
"""
import argparse
import numpy as np, pandas as pd
from leaderboard import load, factory, MODELS
from vcc.models import PerturbationModel, CellMeanBaseline
from vcc.evaluate import cross_validate, leaderboard

class Shrunk(PerturbationModel):
    "A model's predicted change moved towards cell-eval's baseline (`mode` 'soft': by λ; 'scale': times α)."
    name = 'shrunk'
    def __init__(self, inner, value:float, mode:str='soft'): self.inner, self.value, self.mode = inner, value, mode
    @property
    def knockdown(self): return self.inner.knockdown
    @property
    def cell_rule(self): return self.inner.cell_rule
    def fit(self, train):
        self.inner.fit(train); self.train_, self.knockdown_ratio_ = train, self.inner.knockdown_ratio_
        self.b_ = CellMeanBaseline().fit(train).predict_deltas(['any'])[0]
        return self
    def predict_deltas(self, genes):
        r = self.inner.predict_deltas(genes) - self.b_
        r = np.sign(r) * np.maximum(np.abs(r) - self.value, 0) if self.mode == 'soft' else r * self.value
        return self.b_ + r

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--data', default='regime:programs', help="regime:<name>, papalexi or demo (as benchmarks/leaderboard.py)")
    p.add_argument('--models', default='linear,knn,coexpression,kernel_ridge_response')
    p.add_argument('--mode', choices=['soft', 'scale'], default='soft')
    p.add_argument('--values', default='0.005,0.01,0.02', help='λ (soft) or α (scale) values')
    p.add_argument('--folds', type=int, default=4)
    a = p.parse_args(argv)
    adata, totals_key, screen = load(a.data)
    models = {}
    for m in a.models.split(','):
        f = factory(m, MODELS, adata, screen); models[m] = f
        for v in map(float, a.values.split(',')): models[f'{m}~{a.mode}{v:g}'] = lambda f=f, v=v: Shrunk(f(), v, a.mode)
    board = leaderboard(cross_validate(adata, models, n_folds=a.folds, seed=0, ceiling_seeds=(), totals_key=totals_key, progress=False))
    cols = ['model', 'score', 'score_lo', 'score_hi', 'mae', 'discrimination_score_l1', 'overlap_at_N']
    with pd.option_context('display.width', 200): print(a.data, a.mode); print(board[cols].round(4).to_string(index=False))

if __name__ == '__main__': main()
