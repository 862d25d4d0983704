"""The local leaderboard of every model: held-out-perturbation K-fold CV with the official 2025 score (x100, with
bootstrap intervals), the replicate ceiling, each model's share of it and the three metrics (MAE, PDS, DES).

Calls the library only (`vcc.evaluate.cross_validate`, `leaderboard`, `save_leaderboard`); writes leaderboard.csv,
leaderboard.md, leaderboard.png and the per-perturbation results.csv into --out.

    .venv/bin/python benchmarks/leaderboard.py --data demo --out runs/leaderboard_demo
    .venv/bin/python benchmarks/leaderboard.py --data papalexi --out runs/leaderboard_papalexi
    .venv/bin/python benchmarks/leaderboard.py --data demo --models linear,kernel_ridge --folds 3 --out /tmp/lb
    .venv/bin/python benchmarks/leaderboard.py --data papalexi --repeats 3 --out runs/leaderboard_papalexi_x3   # 3 splits: intervals by perturbation
    .venv/bin/python benchmarks/leaderboard.py --data demo --models coexpression_tuned --ceiling-seeds '' --cell-rule shift --out /tmp/lb_shift

Side by side, every regime of the simulator and Papalexi, with the oracles of each simulated screen (issue 22):

    flock /tmp/vcc_heavy.lock .venv/bin/python benchmarks/leaderboard.py --suite --out runs/leaderboard_suite

--suite: for each of regime:programs, regime:network, regime:predictable (simulated in memory at --regime-size) and
papalexi, the leaderboard of --models (default: SUITE_MODELS: `auto`, every candidate of `vcc.auto.CANDIDATES`, the
perturbation mean and the oracles), written into --out/<data>/; then suite.csv and suite.md with every data set's rows,
each model's share of the oracle (`of_oracle`: its score over oracle_strength's) and of the replicate ceiling.
--data regime:<name>: one screen of that regime (`vcc.regimes.simulate_regime`), oracles available as
oracle_direction and oracle_strength.
--data demo: the built-in simulated screen in data/demo (`vcc simulate --out data/demo` writes it; so does `vcc demo`).
--data papalexi: the real Papalexi 2021 screen (299 genes: library sizes from obs 'total_counts').
Any other value is read as a challenge folder or a training h5ad.
"""
import argparse, functools, json, time
from pathlib import Path
from vcc.train import PRESETS  # the named settings the CLI also knows

ENSEMBLE = {'members': {'pert_mean+kd': ['pert_mean', {'knockdown': True}], 'linear': ['linear', {}],
                        'kernel_ridge': ['kernel_ridge', {}], 'knn': ['knn', {}], 'coexpression': ['coexpression', {}]}, 'n_folds': 3}
# leaderboard name -> (registry name, parameters); `cells: true` hands the raw screen to models that read cells
MODELS = {'control': ('control', {}), 'pert_mean': ('pert_mean', {}), 'pert_mean+kd': ('pert_mean', {'knockdown': True}),
          'linear': ('linear', {}), 'linear_controls': ('linear', {'embedding': 'controls'}),
          'kernel_ridge': ('kernel_ridge', {}), 'knn': ('knn', {}),
          'cell_transition': ('cell_transition', {'cells': True}),
          'cell_transition_l1': PRESETS['cell_transition_l1'],  # the pseudobulk L1 loss alone
          'cell_transition_tuned': PRESETS['cell_transition_tuned'],  # the same, wider, fewer axes, more steps
          'cell_transition_bag': PRESETS['cell_transition_bag'],  # the mean of 3 seeds of cell_transition_tuned
          'ensemble': ('ensemble', ENSEMBLE),
          'coexpression': ('coexpression', {}),
          # parameters chosen by inner CV over the training knockdowns (`TunedModel`, MAE guard on unless said)
          'linear_tuned': ('tuned', {'model': 'linear', 'grid': {'n_components': [5, 10, 20], 'ridge': [0.1, 1, 10], 'embedding': ['pca', 'controls']}}),
          'kernel_ridge_tuned': ('tuned', {'model': 'kernel_ridge', 'grid': {'n_components': [10, 20], 'ridge': [0.1, 1, 10], 'bandwidth': [0.25, 0.5, 1]}}),
          'coexpression_tuned': PRESETS['coexpression_tuned'],
          'coexpression_tuned_noguard': ('tuned', {**PRESETS['coexpression_tuned'][1], 'guard_mae': False}),
          # chosen by inner CV over the training knockdowns of each fold (`vcc.auto.AutoModel`)
          'auto': PRESETS['auto']}
ORACLES = ('oracle_direction', 'oracle_strength')  # `vcc.regimes.OracleModel`, on simulated screens only
SUITE_DATA = ['regime:programs', 'regime:network', 'regime:predictable', 'papalexi']
from vcc.auto import CANDIDATES
MODELS.update({n: spec for n, spec in CANDIDATES.items() if n not in MODELS})  # every candidate of auto by its own name
SUITE_MODELS = ['auto', 'pert_mean', *CANDIDATES, *ORACLES]  # auto against every single candidate
PEERS = ('cell_mean_baseline', 'pert_mean', 'linear')  # what auto must be ahead of on each metric (issue 22)
REGIME_SIZE = dict(n_genes=1500, n_train=48, n_val=4, n_test=4, n_control=1500, cells_per_pert=80)
COLUMNS = ['model', 'score', 'score_lo', 'score_hi', 'of_ceiling', 'of_oracle', 'mae', 'mae_lo', 'mae_hi', 'discrimination_score_l1',
           'discrimination_score_l1_lo', 'discrimination_score_l1_hi', 'overlap_at_N', 'overlap_at_N_lo', 'overlap_at_N_hi', 'flags']

def load(data:str, regime_size:dict|None=None, seed:int=0):
    "(raw AnnData, totals_key, the simulator's ScreenModel or None) of a --data value."
    from vcc.data import read_papalexi, PAPALEXI_PATH, DEMO_DIR
    from vcc.train import load_training
    if data == 'papalexi': return read_papalexi(PAPALEXI_PATH), 'total_counts', None
    if data.startswith('regime:'):
        from vcc.regimes import simulate_regime
        scr = simulate_regime(data.split(':', 1)[1], seed=seed, **(regime_size or REGIME_SIZE))
        return scr.training, None, scr.model
    adata, _ = load_training(DEMO_DIR if data == 'demo' else data)
    return adata, None, None

def factory(name:str, specs:dict, adata, screen):
    "An unfitted-model factory of a leaderboard name: an oracle told `screen`'s truth, or a registry/preset spec."
    if name in ORACLES:
        if screen is None: raise SystemExit(f'{name} needs a simulated screen (--data regime:<name>): real data has no known truth')
        from vcc.regimes import OracleModel
        return functools.partial(OracleModel, screen, name.split('_', 1)[1])
    from vcc.train import build_model
    return functools.partial(build_model, *specs[name], adata)

def with_shares(board):
    "The leaderboard with `of_oracle`: each score over oracle_strength's (NaN without an oracle)."
    oracle = board.loc[board.model == 'oracle_strength', 'score']
    return board.assign(of_oracle=board.score / float(oracle.iloc[0]) if len(oracle) and float(oracle.iloc[0]) > 0 else float('nan'))

def with_rule(make, rule):
    "An unfitted model from `make` whose `predict_cells` uses `rule`."
    m = make(); m.cell_rule = rule
    return m

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--data', default='demo', help="'demo', 'papalexi', or a challenge folder / training h5ad")
    p.add_argument('--out', type=Path, required=True, help='folder for leaderboard.csv/.md/.png and results.csv')
    p.add_argument('--models', default=','.join(MODELS), help=f'comma-separated names of {list(MODELS)}')
    p.add_argument('--params', help='JSON {name: [registry name, params]} adding or replacing models')
    p.add_argument('--folds', type=int, default=5)
    p.add_argument('--repeats', type=int, default=1, help='K-fold splits (fold seeds --seed, --seed + 1, ...): on a small screen the split moves the score a lot')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--ceiling-seeds', default='0,1', help='seeds of the split-half replicate ceiling')
    p.add_argument('--max-controls', type=int, default=None)
    p.add_argument('--totals-key', help="obs column of library sizes for the models (default: 'total_counts' for papalexi, row sums otherwise; '' for row sums, which is how the scorer normalises the truth)")
    p.add_argument('--cell-rule', choices=['scale', 'shift', 'pseudobulk'], help="every model's rule for making cells (default: each model's own, 'scale'): to measure how it moves DES and PDS")
    p.add_argument('--overwrite', action='store_true')
    p.add_argument('--suite', action='store_true', help=f'every data set of {SUITE_DATA} side by side (models: --models if given, else SUITE_MODELS)')
    p.add_argument('--regime-size', help=f'JSON sizes of the simulated regimes (default {json.dumps(REGIME_SIZE)})')
    a = p.parse_args(argv)
    if a.suite: return suite(a, p)
    run_one(a)

def suite(a, parser):
    "Each data set of SUITE_DATA into --out/<name>/, then suite.csv and suite.md side by side."
    import pandas as pd
    from vcc.evaluate import markdown_table
    from vcc.data import write_csv
    models = a.models if a.models != parser.get_default('models') else ','.join(SUITE_MODELS)
    boards = []
    for data in SUITE_DATA:
        sub = argparse.Namespace(**{**vars(a), 'data': data, 'out': a.out/data.replace(':', '_'),
                                    'models': ','.join(m for m in models.split(',') if data.startswith('regime:') or m not in ORACLES)})
        boards.append(run_one(sub).assign(data=data))
    table = pd.concat(boards, ignore_index=True)
    write_csv(table, a.out/'suite.csv', overwrite=a.overwrite)
    cols = ['data', 'model', 'score', 'score_lo', 'score_hi', 'of_oracle', 'of_ceiling', 'mae', 'discrimination_score_l1', 'overlap_at_N', 'auto_minus_best']
    table['auto_minus_best'] = table.get('auto_minus_best', pd.Series('', index=table.index)).fillna('')
    (a.out/'suite.md').write_text(markdown_table(table[cols].rename(columns={'discrimination_score_l1': 'PDS', 'overlap_at_N': 'DES', 'mae': 'MAE'}), digits=3))
    plot_suite(table).savefig(a.out/'suite.png', dpi=90, bbox_inches='tight')
    checks = metric_checks(table)
    (a.out/'suite_checks.md').write_text(markdown_table(checks, digits=4))
    print(checks.to_string(index=False))
    print(f"wrote {a.out/'suite.csv'}, {a.out/'suite.md'}, {a.out/'suite_checks.md'}, {a.out/'suite.png'}")
    return table

def metric_checks(table, peers=PEERS):
    "Per data set, peer and metric: auto's mean beside the peer's and whether auto is ahead (lower MAE, higher PDS and DES)."
    import pandas as pd
    rows = []
    for data, b in table.groupby('data', sort=False):
        b = b.set_index('model')
        if 'auto' not in b.index: continue
        for peer in (p for p in peers if p in b.index):
            for metric, label, lower in (('mae', 'MAE', True), ('discrimination_score_l1', 'PDS', False), ('overlap_at_N', 'DES', False)):
                mine, theirs = float(b.loc['auto', metric]), float(b.loc[peer, metric])
                rows.append(dict(data=data, peer=peer, metric=label, auto=mine, peer_value=theirs, ahead=bool(mine < theirs if lower else mine > theirs)))
    return pd.DataFrame(rows)

def kept(make, store:list):
    "A factory like `make` that also keeps each model it makes (cross_validate fits it in place): to read what `auto` chose per fold."
    def f():
        m = make(); store.append(m)
        return m
    return f

def paired_gap(results, a:str, b:str, n_boot:int=1000, seed:int=0, ci:float=0.95) -> dict:
    "Official score of `a` minus `b` (x100) with a paired bootstrap interval over held-out knockdowns (same draws for both)."
    import numpy as np
    from vcc.metrics import combined_score, VCC_METRICS
    from vcc.evaluate import BASELINE
    wide = {m: results[results.model == m].set_index(['fold', 'perturbation'])[VCC_METRICS] for m in (a, b, BASELINE)}
    keys = wide[BASELINE].index
    wide = {m: w.reindex(keys) for m, w in wide.items()}
    score = lambda m, rows: float(combined_score(wide[m].iloc[rows].mean(), wide[BASELINE].iloc[rows].mean()).set_index('metric').loc['avg_score', 'x100'])
    perts = keys.get_level_values('perturbation')
    rows_of = [np.flatnonzero(perts == p) for p in dict.fromkeys(perts)]
    draws = np.random.default_rng(seed).integers(0, len(rows_of), (n_boot, len(rows_of)))
    gaps = [score(a, r) - score(b, r) for r in (np.concatenate([rows_of[i] for i in d]) for d in draws)]
    every = np.arange(len(keys))
    return dict(gap=score(a, every) - score(b, every), gap_lo=np.percentile(gaps, (1 - ci) / 2 * 100), gap_hi=np.percentile(gaps, (1 + ci) / 2 * 100))

def plot_suite(table):
    "One panel per data set: each model's official score (x100) with its interval; auto dark, oracles and the ceiling grey."
    import matplotlib.pyplot as plt
    data = list(dict.fromkeys(table.data))
    fig, axes = plt.subplots(1, len(data), figsize=(4.2 * len(data), 5), sharey=False)
    for ax, d in zip(axes, data):
        b = table[table.data == d].sort_values('score')
        y = range(len(b))
        colors = ['C3' if m == 'auto' else '0.65' if m in (*ORACLES, 'replicate', 'cell_mean_baseline') else 'C0' for m in b.model]
        ax.barh(list(y), b.score, xerr=[b.score - b.score_lo, b.score_hi - b.score], color=colors, capsize=2)
        ax.set(yticks=list(y), yticklabels=b.model, xlabel='official score (x100; baseline = 0)', title=d)
    fig.tight_layout()
    return fig

def run_one(a):
    "The leaderboard of one --data value, written into --out; returns it."
    a.regime_size = json.loads(a.regime_size) if isinstance(a.regime_size, str) else a.regime_size
    from vcc.evaluate import cross_validate, leaderboard, save_leaderboard, REPLICATE
    from vcc.data import write_csv
    import pandas as pd
    specs = {**MODELS, **{k: tuple(v) for k, v in json.loads(a.params or '{}').items()}}
    names = [n for n in a.models.split(',') if n] + [n for n in json.loads(a.params or '{}') if n not in a.models.split(',')]
    adata, totals_key, screen = load(a.data, a.regime_size, a.seed)
    if a.totals_key is not None: totals_key = a.totals_key or None
    factories = {n: factory(n, specs, adata, screen) for n in names}
    autos = []
    if 'auto' in factories: factories['auto'] = kept(factories['auto'], autos)
    if a.cell_rule: factories = {n: functools.partial(with_rule, f, a.cell_rule) for n, f in factories.items()}
    t0 = time.time()
    results = cross_validate(adata, factories, n_folds=a.folds, seed=a.seed, repeats=a.repeats, max_controls=a.max_controls, totals_key=totals_key,
                             ceiling_seeds=tuple(int(s) for s in a.ceiling_seeds.split(',') if s))
    board = with_shares(leaderboard(results, seed=a.seed))
    a.out.mkdir(parents=True, exist_ok=True)
    if autos:  # what auto chose in each fold, and its gap to the best single candidate (paired over knockdowns)
        write_csv(pd.DataFrame({'fold': range(len(autos)), 'choice': [m.choice_ for m in autos]}), a.out/'auto_choices.csv', overwrite=a.overwrite)
        print('auto chose, by fold: ' + '; '.join(m.choice_ for m in autos))
        singles = board[~board.model.isin(['auto', REPLICATE, 'cell_mean_baseline', *ORACLES])]
        if len(singles):
            best = singles.model.iloc[0]
            gap = paired_gap(results, 'auto', best, seed=a.seed)
            board['auto_minus_best'] = [f"{gap['gap']:.2f} [{gap['gap_lo']:.2f}, {gap['gap_hi']:.2f}] vs {best}" if m == 'auto' else '' for m in board.model]
            print(f"auto minus the best single candidate ({best}): {gap['gap']:.2f} [{gap['gap_lo']:.2f}, {gap['gap_hi']:.2f}] (x100, paired 95% bootstrap)")
    paths = save_leaderboard(board, a.out, overwrite=a.overwrite)
    write_csv(results, a.out/'results.csv', overwrite=a.overwrite)
    ceiling = board.loc[board.model == REPLICATE, 'score']
    with pd.option_context('display.width', 250, 'display.max_columns', 50, 'display.max_colwidth', 40):
        print(board[COLUMNS].round(4).to_string(index=False))
    print(f"\n{a.data}: {adata.n_obs:,} cells x {adata.n_vars:,} genes, library sizes {totals_key or 'row sums'}, {a.folds}-fold CV x {a.repeats}, seed {a.seed}, "
          f"replicate ceiling {float(ceiling.iloc[0]) if len(ceiling) else float('nan'):.2f}; {time.time() - t0:.0f} s")
    print('wrote ' + ', '.join(str(p) for p in [*paths.values(), a.out/'results.csv']))
    measured = results.perturbation.isin(adata.var_names)
    if not measured.all():  # targets outside the measured genes have no features of their own (Papalexi: 16 of 25)
        by = results.assign(target=measured.map({True: 'measured', False: 'unmeasured'})).groupby(['model', 'target'])
        print(f"\nmetric means by target, {measured.groupby(results.perturbation).first().sum()} of {results.perturbation.nunique()} targets measured:")
        print(by[['mae', 'discrimination_score_l1', 'overlap_at_N']].mean().unstack('target').round(4).to_string())
    return board

if __name__ == '__main__': main()
