"""How `auto`'s choice rules fare on knockdowns they never saw: for every data set of the suite and every outer fold, auto's
inner leaderboard (every single candidate and blend, scored by inner CV on the outer training knockdowns) beside the outer
score of every one of those entries on the outer held-out knockdowns. Each rule picks an entry per fold from the inner board
alone; its outer score is then compared with the best single candidate's (paired over knockdowns, 95% bootstrap).

One run fits each candidate once per inner and outer fold and scores every entry outside; the rules are then compared
from the saved tables in seconds (--from).

    flock /tmp/vcc_heavy.lock .venv/bin/python benchmarks/auto_rules.py --out runs/auto_rules
    .venv/bin/python benchmarks/auto_rules.py --from runs/auto_rules
    .venv/bin/python benchmarks/auto_rules.py --from runs/auto_rules --suite runs/leaderboard_suite_d1b --rule best

Also writes ahead.md: per data set, the entries scored in every outer fold that are ahead of the cell-mean baseline and of
linear on all three metrics (issue 22's bar), i.e. whether any choice of auto could meet it.

--suite: a suite leaderboard.py wrote on the same outer folds (--folds, --seed): its per-knockdown rows (which the outer rows
here reproduce exactly) with auto's replaced by the rule's picks give the suite's table for that rule (score with interval,
share of the oracle and of the replicate ceiling, MAE, PDS, DES) and the per-metric checks against the peers.
"""
import argparse, json, time
from pathlib import Path
import pandas as pd

import leaderboard as lb  # the suite's data sets and paired gap (benchmarks/leaderboard.py)

def rule_pick(board:pd.DataFrame, rule:str) -> str:
    "The entry a rule takes from one inner board (best first; `gap_se`: paired SE of the gap to the best; `members`: effective members)."
    b = board[board.model != 'cell_mean_baseline'].reset_index(drop=True)
    if rule.split('+')[0] in ('simplest', 'even', 'best'):  # auto's own choices; '+guard': with guard_mae
        from vcc.auto import AutoModel
        base_mae = float(board.loc[board.model == 'cell_mean_baseline', 'mae'].iloc[0])
        return AutoModel(choice=rule.split('+')[0], guard_mae=rule.endswith('+guard'))._choose(b, base_mae=base_mae)
    if rule == 'best_single': return b[b.members < 1.5].model.iloc[0]
    if rule == 'blend_if_better':  # the best single unless a blend beats it by more than one paired SE of their difference
        single = b[b.members < 1.5].iloc[0]
        return b.model[0] if b.score[0] - single.score > single.gap_se else single.model
    raise ValueError(rule)

RULES = ('simplest', 'even', 'best', 'simplest+guard', 'best_single', 'blend_if_better')  # the first four are vcc.auto.AutoModel's choices

def run_data(data:str, a) -> tuple[pd.DataFrame, pd.DataFrame]:
    "(inner boards, outer per-knockdown metrics of every entry) of one data set over its outer folds."
    from vcc.auto import AutoModel, CANDIDATES
    from vcc.data import PERT_COL, CONTROL_LABEL
    from vcc.models import TrainingSet
    from vcc.evaluate import perturbation_folds, held_out_truth, counts_of, BASELINE
    from vcc.metrics import summarise_real, score_prediction, cell_mean_baseline, VCC_METRICS
    adata, totals_key, _ = lb.load(data, json.loads(a.regime_size) if a.regime_size else lb.REGIME_SIZE, a.seed)
    full = TrainingSet.from_adata(adata, totals_key=totals_key)
    labels = adata.obs[PERT_COL].astype(str)
    boards, outer = [], []
    for k, held in enumerate(perturbation_folds(full.perts, a.folds, a.seed)):
        t0 = time.time()
        train = full.subset([p for p in full.perts if p not in set(held)])
        auto = AutoModel(cells=adata, seed=a.seed).fit(train)
        boards.append(auto.leaderboard_.assign(data=data, fold=k))
        real = held_out_truth(adata, held)
        real_side, counts = summarise_real(real), counts_of(real)
        fitted = {m: auto._make(m).fit(train) for m in CANDIDATES}
        preds = {BASELINE: cell_mean_baseline(adata[~labels.isin(held).to_numpy()], counts)}
        for name, w in auto.entries_.items():
            auto.weights_, auto.fitted_ = w.rename('weight'), {m: fitted[m] for m in w.index}
            preds[name] = auto.predict_cells(counts, seed=a.seed)
        for name, pred in preds.items():
            outer.append(score_prediction(pred, real_side)[0][['perturbation'] + VCC_METRICS].assign(model=name, fold=k, data=data))
        print(f'{data} fold {k}: auto chose {auto.choice_}; {len(preds)} entries scored outside; {time.time() - t0:.0f} s', flush=True)
    return pd.concat(boards, ignore_index=True), pd.concat(outer, ignore_index=True)

def compare(boards:pd.DataFrame, outer:pd.DataFrame, seed:int=0) -> pd.DataFrame:
    "Per data set and rule: the entries picked per fold, the outer score, and the paired gap to the best single candidate outside."
    from vcc.auto import CANDIDATES, inner_leaderboard
    rows = []
    for data, o in outer.groupby('data', sort=False):
        b = boards[boards.data == data]
        singles = inner_leaderboard(o[o.model.isin([*CANDIDATES, 'cell_mean_baseline'])], n_boot=1)
        best = singles.model[0]
        for rule in RULES:
            picks = {k: rule_pick(g.reset_index(drop=True), rule) for k, g in b.groupby('fold')}
            mine = pd.concat([o[(o.fold == k) & (o.model == m)] for k, m in picks.items()]).assign(model=rule)
            gap = lb.paired_gap(pd.concat([o, mine]), rule, best, seed=seed)
            score = inner_leaderboard(pd.concat([o[o.model == 'cell_mean_baseline'], mine]), n_boot=1).score[0]
            rows.append(dict(data=data, rule=rule, score=score, best_single=best, best_score=singles.score[0], **gap,
                             **mine[['mae', 'discrimination_score_l1', 'overlap_at_N']].mean().to_dict(), picks='; '.join(picks.values())))
    return pd.DataFrame(rows)

def with_suite(boards:pd.DataFrame, outer:pd.DataFrame, suite:Path, rule:str, seed:int=0) -> tuple[pd.DataFrame, pd.DataFrame]:
    "(the suite table with auto's rows the rule's picks, per-metric checks against `leaderboard.PEERS`)."
    from vcc.evaluate import leaderboard
    tables = []
    for data, o in outer.groupby('data', sort=False):
        res = pd.read_csv(suite/data.replace(':', '_')/'results.csv')
        b = boards[boards.data == data]
        picks = {k: rule_pick(g.reset_index(drop=True), rule) for k, g in b.groupby('fold')}
        mine = pd.concat([o[(o.fold == k) & (o.model == m)] for k, m in picks.items()]).assign(model='auto', flags='')
        res = pd.concat([res[res.model != 'auto'], mine.drop(columns='data')], ignore_index=True)
        board = lb.with_shares(leaderboard(res, seed=seed))
        singles = board[~board.model.isin(['auto', 'replicate', 'cell_mean_baseline', 'pert_mean', *lb.ORACLES])]
        gap = lb.paired_gap(res, 'auto', singles.model.iloc[0], seed=seed)
        board['auto_minus_best'] = [f"{gap['gap']:.2f} [{gap['gap_lo']:.2f}, {gap['gap_hi']:.2f}] vs {singles.model.iloc[0]}" if m == 'auto' else '' for m in board.model]
        tables.append(board.assign(data=data))
    table = pd.concat(tables, ignore_index=True)
    return table, lb.metric_checks(table)

def ahead_everywhere(outer:pd.DataFrame, peers=('cell_mean_baseline', 'linear')) -> pd.DataFrame:
    """Per data set, the entries scored in every outer fold (every single candidate, and a blend only where every fold had it) whose
    outer means are ahead of every peer on every metric (lower MAE, higher PDS and DES): could any choice meet issue 22's bar?"""
    rows = []
    for data, g in outer.groupby('data', sort=False):
        folds = g.groupby('model').fold.nunique()
        m = g[g.model.isin(folds.index[folds == folds.max()])].groupby('model')[['mae', 'discrimination_score_l1', 'overlap_at_N']].mean()
        ok = pd.Series(True, index=m.index)
        for peer in peers:
            b = m.loc[peer]
            ok &= (m.mae < b.mae) & (m.discrimination_score_l1 > b.discrimination_score_l1) & (m.overlap_at_N > b.overlap_at_N)
        rows.append(dict(data=data, entries=len(m), ahead_of_all=', '.join(m.index[ok]) or '(none)'))
    return pd.DataFrame(rows)

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--out', type=Path, help='folder for inner_boards.csv, outer_results.csv and rules.md')
    p.add_argument('--from', dest='src', type=Path, help='compare the rules from a folder a run wrote (no fitting)')
    p.add_argument('--data', default=','.join(lb.SUITE_DATA))
    p.add_argument('--folds', type=int, default=4)
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--suite', type=Path, help='a folder leaderboard.py --suite wrote on the same outer folds: its table with auto as --rule picks')
    p.add_argument('--rule', default='simplest', choices=RULES, help='the rule whose picks are auto in the --suite table (default: %(default)s)')
    p.add_argument('--regime-size', help=f'JSON sizes of the simulated regimes (default {json.dumps(lb.REGIME_SIZE)})')
    a = p.parse_args(argv)
    from vcc.evaluate import markdown_table
    if a.src is None:
        if a.out is None: p.error('give --out (a new run) or --from (a finished one)')
        a.out.mkdir(parents=True, exist_ok=True)
        parts = [run_data(d, a) for d in a.data.split(',')]
        pd.concat([b for b, _ in parts]).to_csv(a.out/'inner_boards.csv', index=False)
        pd.concat([o for _, o in parts]).to_csv(a.out/'outer_results.csv', index=False)
    src = a.src or a.out
    table = compare(pd.read_csv(src/'inner_boards.csv'), pd.read_csv(src/'outer_results.csv'), a.seed)
    (src/'rules.md').write_text(markdown_table(table, digits=3))
    with pd.option_context('display.width', 250, 'display.max_colwidth', 120):
        print(table.round(3).to_string(index=False))
    print(f"wrote {src/'rules.md'}")
    ahead = ahead_everywhere(pd.read_csv(src/'outer_results.csv'))
    (src/'ahead.md').write_text(markdown_table(ahead))
    with pd.option_context('display.width', 250, 'display.max_colwidth', 200):
        print('\nentries ahead of cell_mean_baseline and linear on MAE, PDS and DES (outer means):'); print(ahead.to_string(index=False))
    if a.suite:
        suite, checks = with_suite(pd.read_csv(src/'inner_boards.csv'), pd.read_csv(src/'outer_results.csv'), a.suite, a.rule, a.seed)
        cols = ['data', 'model', 'score', 'score_lo', 'score_hi', 'of_oracle', 'of_ceiling', 'mae', 'discrimination_score_l1', 'overlap_at_N', 'auto_minus_best']
        (src/f'suite_{a.rule}.md').write_text(markdown_table(suite[cols].rename(columns={'discrimination_score_l1': 'PDS', 'overlap_at_N': 'DES', 'mae': 'MAE'}), digits=3))
        (src/f'suite_{a.rule}_checks.md').write_text(markdown_table(checks, digits=4))
        with pd.option_context('display.width', 250, 'display.max_colwidth', 60):
            print(suite[suite.model == 'auto'][cols].round(3).to_string(index=False)); print(checks.to_string(index=False))
        print(f"wrote {src/f'suite_{a.rule}.md'}, {src/f'suite_{a.rule}_checks.md'}")

if __name__ == '__main__': main()
