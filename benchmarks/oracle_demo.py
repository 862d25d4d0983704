"""How much of the built-in demo's replicate ceiling can any model reach? Oracles that know the simulator's truth, scored
on the demo's validation split beside a trained model, the cell-mean baseline and the replicate ceiling.

The demo (data/demo, `vcc simulate --out data/demo`) is drawn from `vcc.data.make_screen_model(seed=0)`. A held-out
perturbation's true change is `scale * (u @ W.T + private) + shared_weight * systematic`, where `u` is the target's program
loadings (normalised, x2) plus program noise, `scale` is its strength (45% negligible, 30% subtle, 25% strong) and `private`
is a change of ~1% of genes that nothing observable predicts. The oracles draw fresh cells (a seed the truth never used) from:

- `oracle_truth`: the true model: every parameter of the held-out knockdowns known (a perfect generative model);
- `oracle_strength`: the true strength and knockdown, but the expected change given the target's programs (no program noise,
  no private part): what a model that read the programs perfectly and also knew each knockdown's strength could reach;
- `oracle_programs`: only the target's programs known: mean strength, mean knockdown (what the features of an unseen gene
  can tell at best, up to how well control co-expression recovers the programs).

    .venv/bin/python benchmarks/oracle_demo.py                       # + coexpression_tuned, the demo's best model
    .venv/bin/python benchmarks/oracle_demo.py --models '' --out /tmp/oracle

Prints the leaderboard (official score x100 with bootstrap intervals, share of the ceiling); asserts nothing.
"""
import argparse, dataclasses, functools, time
from pathlib import Path
import numpy as np, pandas as pd, anndata as ad, scipy.sparse as sp

ROOT = Path(__file__).resolve().parents[1]


def oracle_model(model, split, kind):
    "A copy of the simulator's `model` whose perturbations of `split` have what the oracle `kind` knows of them."
    from vcc.data import STRENGTH_SHARES, STRENGTH_SCALE
    perts, effects = model.perts.copy(), model.effects.copy()
    rows = np.flatnonzero(perts.split.to_numpy() == split)
    if kind == 'truth': return model
    W, t = model.loadings, perts.gene_index.to_numpy()[rows]
    Wt = W[t]
    norm = np.linalg.norm(Wt, axis=1, keepdims=True)
    direction = np.where(norm > 0, Wt / np.maximum(norm, 1e-12), 0) * 2.0 @ W.T  # E[u] @ W.T: the program noise has mean 0
    if kind == 'strength': scale = perts.scale.to_numpy()[rows]
    elif kind == 'programs':
        scale = np.full(len(rows), sum(STRENGTH_SHARES[s] * np.mean(STRENGTH_SCALE[s]) for s in STRENGTH_SHARES))
        perts.iloc[rows, perts.columns.get_loc('knockdown')] = perts.knockdown.mean()
    else: raise ValueError(kind)
    effects[rows] = scale[:, None] * direction + (0.1 + 0.4 * scale)[:, None] * model.systematic[None]
    effects[rows, t] = 0.0
    return dataclasses.replace(model, perts=perts, effects=effects)


def oracle_cells(model, split, controls, seed):
    "Fresh cells of `split`'s perturbations from `model` (seed `seed`), log1p, with the real training controls appended."
    from vcc.data import iter_group_chunks
    from vcc.metrics import normalise_log1p
    perts = model.perts[model.perts.split == split]
    obs, X = zip(*[c for g, n in zip(perts.index, perts.n_cells) for c in iter_group_chunks(model, g, n, seed)])
    cells = ad.AnnData(sp.vstack(X, format='csr'), obs=pd.concat(obs)[['target_gene']], var=pd.DataFrame(index=model.genes.index.copy()))
    cells.obs_names = [f'o{i}' for i in range(cells.n_obs)]
    return ad.concat([normalise_log1p(cells), controls])


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--data', type=Path, default=ROOT/'data'/'demo', help='the demo folder (simulated with seed 0, default sizes)')
    p.add_argument('--models', default='coexpression_tuned', help='comma-separated registry or preset names to fit and score beside the oracles')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--draw-seed', type=int, default=12345, help='seed of the oracles\' cells (the truth was drawn with the folder\'s seed)')
    p.add_argument('--ceiling-seeds', default='0,1')
    p.add_argument('--out', type=Path, help='folder for leaderboard.csv/.md/.png')
    a = p.parse_args(argv)
    from vcc.data import make_screen_model, ChallengeFolder
    from vcc.metrics import normalise_log1p
    from vcc.evaluate import evaluate_on_truth, leaderboard, save_leaderboard, REPLICATE
    from vcc.train import build_model
    t0 = time.time()
    cf = ChallengeFolder(a.data)
    truth_effects = ad.read_h5ad(cf.effects)
    train = ad.read_h5ad(cf.training)
    model = make_screen_model(seed=int(train.uns.get('seed', 0)))
    if not (list(model.perts.index) == list(truth_effects.obs_names) and np.allclose(model.effects, truth_effects.layers['downstream'])):
        raise SystemExit(f'{a.data} was not simulated with make_screen_model\'s default sizes: the oracles would not know its truth.')
    controls = normalise_log1p(train[train.obs.target_gene == 'non-targeting'].copy())
    controls = ad.AnnData(controls.X, obs=controls.obs[['target_gene']], var=controls.var[[]])
    predictions = {f'oracle_{k}': oracle_cells(oracle_model(model, 'validation', k), 'validation', controls, a.draw_seed)
                   for k in ('truth', 'strength', 'programs')}
    models = {n: functools.partial(build_model, n, None, train) for n in a.models.split(',') if n}
    results = evaluate_on_truth(a.data, models=models, seed=a.seed, predictions=predictions,
                                ceiling_seeds=tuple(int(s) for s in a.ceiling_seeds.split(',') if s))
    board = leaderboard(results, seed=a.seed)
    cols = ['model', 'score', 'score_lo', 'score_hi', 'of_ceiling', 'mae', 'discrimination_score_l1', 'overlap_at_N']
    with pd.option_context('display.width', 200, 'display.max_columns', 20):
        print(board[cols].round(4).to_string(index=False))
    ceiling = float(board.loc[board.model == REPLICATE, 'score'].iloc[0]) if (board.model == REPLICATE).any() else float('nan')
    print(f'\n{a.data} validation split: {len(model.perts[model.perts.split == "validation"])} perturbations, replicate ceiling {ceiling:.2f}; {time.time() - t0:.0f} s')
    if a.out:
        a.out.mkdir(parents=True, exist_ok=True)
        print('wrote ' + ', '.join(str(p) for p in save_leaderboard(board, a.out, overwrite=True).values()))


if __name__ == '__main__': main()
