"""The wider model family against its parents (issue 22, item 3): every variant and the model it varies, cross-validated
side by side on each regime of the simulator and on Papalexi (benchmarks/leaderboard.py, one run per data set), then each variant
minus its parent: the official score (x100) with a paired bootstrap interval over held-out knockdowns, and the
differences in MAE, PDS and DES.

    flock /tmp/vcc_heavy.lock .venv/bin/python benchmarks/family_leaderboard.py --out runs/family
    .venv/bin/python benchmarks/family_leaderboard.py --out /tmp/fam --folds 3 --only kernel_ridge,kr_response   # a subset
    for d in regime:programs regime:network regime:predictable papalexi; do   # one data set per lock turn, then the table
      flock /tmp/vcc_heavy.lock .venv/bin/python benchmarks/family_leaderboard.py --out runs/family --data $d; done
    .venv/bin/python benchmarks/family_leaderboard.py --out runs/family --collect

Writes each data set's leaderboard into --out/<data>/ (leaderboard.py's files) and family.csv/.md (variant vs parent).
"""
import argparse, json, sys, time
from pathlib import Path
sys.path.insert(0, str(Path(__file__).parent))
import leaderboard as lb

# leaderboard name -> [registry name, parameters]: the variants, each measured against its parent
FAMILY = {
    'kr_response': ['kernel_ridge', {'features': 'response'}],
    'kr_both': ['kernel_ridge', {'features': 'both'}],
    'knn_response': ['knn', {'features': 'response'}],
    'knn_both': ['knn', {'features': 'both'}],
    'linear_nokd': ['linear', {'knockdown': False}],
    'kernel_ridge_nokd': ['kernel_ridge', {'knockdown': False}],
    # the features chosen by inner CV over the training knockdowns (`TunedModel`), alone or with the usual grid
    'kr_features_tuned': ['tuned', {'model': 'kernel_ridge', 'grid': {'features': ['coexpression', 'response', 'both']}}],
    'knn_features_tuned': ['tuned', {'model': 'knn', 'grid': {'features': ['coexpression', 'response', 'both']}}],
    'kr_tuned_features': ['tuned', {'model': 'kernel_ridge', 'grid': {'features': ['coexpression', 'response', 'both'], 'n_components': [10, 20],
                                                                      'ridge': [0.1, 1, 10], 'bandwidth': [0.25, 0.5, 1]}}],
    'kr_dispersion': ['adjusted', {'model': 'kernel_ridge', 'cell_rule': 'dispersion', 'dispersion': 'learned', 'cells': True}],
    'linear_dispersion': ['adjusted', {'model': 'linear', 'cell_rule': 'dispersion', 'dispersion': 'learned', 'cells': True}],
}
PARENT = {'kr_response': 'kernel_ridge', 'kr_both': 'kernel_ridge', 'knn_response': 'knn', 'knn_both': 'knn',
          'kr_features_tuned': 'kernel_ridge', 'knn_features_tuned': 'knn', 'kr_tuned_features': 'kernel_ridge_tuned',
          'linear_nokd': 'linear', 'kernel_ridge_nokd': 'kernel_ridge', 'kr_dispersion': 'kernel_ridge', 'linear_dispersion': 'linear'}
METRICS = {'mae': 'MAE', 'discrimination_score_l1': 'PDS', 'overlap_at_N': 'DES'}

def gaps(out:Path, pairs:list, data:list, seed:int=0):
    "Per data set and (variant, parent): score gap with its paired interval, and the metric differences."
    import pandas as pd
    rows = []
    for d in data:
        res = pd.read_csv(out/d.replace(':', '_')/'results.csv')
        board = pd.read_csv(out/d.replace(':', '_')/'leaderboard.csv').set_index('model')
        for v, p in pairs:
            if v not in board.index or p not in board.index: continue
            g = lb.paired_gap(res, v, p, seed=seed)
            rows.append({'data': d, 'variant': v, 'parent': p, 'score': board.loc[v, 'score'], 'parent_score': board.loc[p, 'score'],
                         'gap': g['gap'], 'gap_lo': g['gap_lo'], 'gap_hi': g['gap_hi'],
                         **{f'd_{n}': board.loc[v, m] - board.loc[p, m] for m, n in METRICS.items()}})
    return pd.DataFrame(rows)

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--out', type=Path, required=True)
    p.add_argument('--only', help='comma-separated names (variants and parents) to run; default: every variant and parent')
    p.add_argument('--folds', type=int, default=5)
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--data', help=f'comma-separated data sets (default: {",".join(lb.SUITE_DATA)})')
    p.add_argument('--collect', action='store_true', help='run nothing: family.csv/.md from the data sets already in --out (e.g. after one run per data set)')
    p.add_argument('--regime-size', help='JSON sizes of the simulated regimes (leaderboard.py --regime-size)')
    a = p.parse_args(argv)
    names = a.only.split(',') if a.only else list(dict.fromkeys([*PARENT.values(), *FAMILY]))
    data = a.data.split(',') if a.data else list(lb.SUITE_DATA)
    t0 = time.time()
    if a.collect: data = [d for d in data if (a.out/d.replace(':', '_')/'results.csv').exists()]
    for d in data if not a.collect else []:  # one leaderboard per data set (leaderboard.py's own run), oracles left out: this compares models with models
        args = ['--data', d, '--out', str(a.out/d.replace(':', '_')), '--models', ','.join(n for n in names if n not in FAMILY),
                '--folds', str(a.folds), '--seed', str(a.seed), '--ceiling-seeds', '0', '--overwrite',
                '--params', json.dumps({n: FAMILY[n] for n in names if n in FAMILY})]
        if a.regime_size: args += ['--regime-size', a.regime_size]
        lb.main(args)
    table = gaps(a.out, [(v, PARENT[v]) for v in FAMILY if v in names and PARENT[v] in names], data, a.seed)
    from vcc.data import write_csv
    from vcc.evaluate import markdown_table
    write_csv(table, a.out/'family.csv', overwrite=True)
    (a.out/'family.md').write_text(markdown_table(table, digits=3))
    import pandas as pd
    with pd.option_context('display.width', 250, 'display.max_columns', 20):
        print(table.round(3).to_string(index=False))
    print(f'{time.time() - t0:.0f} s; wrote {a.out/"family.csv"}, {a.out/"family.md"}')

if __name__ == '__main__': main()
