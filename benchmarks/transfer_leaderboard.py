"""The zero-shot transfer leaderboard of the 2026 edition: leave-one-context-out (and 2025-style held-out perturbations
within one context) on a simulated multi-context screen of every generative regime, scored with the exact 2026 score
(`vcc.metrics2026`, cell-eval2 vcc2026), with 95% paired-bootstrap intervals, the replicate ceiling (1 by construction
of the scaled score), the context-mean baseline, the transfer models (additive, similarity, knockdown, the Lightning
`learned` model), `auto` (choosing among all of these), and the oracles told the shared part of each effect
(`oracle_shared`, the transferable signal) or all of it (`oracle_all`).

Calls the library only (`vcc.transfer.multi_context_screen`, `evaluate_transfer`, `summarise_transfer`); writes
per regime <out>/<regime>/{per_perturbation,table,summary}.csv, then <out>/transfer_leaderboard.{csv,md} and a figure per
kind, <out>/transfer_leaderboard_<kind>.png.

    flock /tmp/vcc_heavy.lock .venv/bin/python benchmarks/transfer_leaderboard.py --out runs/transfer_leaderboard
    .venv/bin/python benchmarks/transfer_leaderboard.py --regimes network --genes 500 --out /tmp/tl   # one regime, smaller

--embedding-eval adds `learned` with a gene-embedding file of its targets beside plain `learned`: an informative one
(`learned+emb`: the leading 8 singular directions of the targets' shared effect averaged over the contexts, plus noise of
--embedding-noise times its spread, what a good embedding of function would carry) and an uninformative one
(`learned+random_emb`: Gaussian vectors of the same shape), so the leaderboard says whether the network uses an embedding
that holds signal and is not hurt by one that holds none. The embedding enters the network's input only; a perturbation
no reference holds is still predicted as the generic response, so on held-out perturbations the three score alike.
--no-auto leaves auto out (it refits every candidate per fold); --kinds picks the CV kinds.

    flock /tmp/vcc_heavy.lock .venv/bin/python benchmarks/transfer_leaderboard.py --embedding-eval --no-auto --out runs/transfer_embedding

Sized for well under 10 minutes on 2 cores (about 5 under the lock here, 2.7 GB peak): 4 regimes x 4 contexts (2 families) x 30 perturbations x 400 cells, 1,000 genes.
No setting is tuned on the context it is scored on: the transfer models choose their settings, and `auto` its model, by
leave-one-context-out among the training contexts only.
"""
import argparse, resource, time, warnings
from pathlib import Path
import numpy as np, pandas as pd

def embeddings(rc, dim:int=8, noise:float=1.0, seed:int=0) -> dict:
    "An informative gene embedding of the screen's targets (their mean shared effect's leading singular directions, plus noise) and a random one."
    targets = rc.screen.models[rc.contexts[0]].perts.index
    M = np.mean([rc.shared_effects[c] for c in rc.contexts], 0)
    u, sv, _ = np.linalg.svd(M - M.mean(0), full_matrices=False)
    Z = u[:, :dim] * sv[:dim]
    rng = np.random.default_rng(seed)
    Z = Z + noise * Z.std() * rng.normal(size=Z.shape)
    cols = [f'd{i}' for i in range(Z.shape[1])]
    return {'learned+emb': pd.DataFrame(Z, index=targets, columns=cols), 'learned+random_emb': pd.DataFrame(rng.normal(size=Z.shape), index=targets, columns=cols)}

def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--regimes', default='contexts,programs,network,predictable', help='comma-separated: contexts (vcc.contexts simulator), programs, network, predictable')
    ap.add_argument('--genes', type=int, default=1000)
    ap.add_argument('--perts', type=int, default=30)
    ap.add_argument('--cells', type=int, default=400, help='cells per perturbation (real and predicted)')
    ap.add_argument('--controls', type=int, default=2000)
    ap.add_argument('--contexts', default='C1,C2,C3,C4')
    ap.add_argument('--families', type=int, default=2)
    ap.add_argument('--shared', type=float, default=0.6)
    ap.add_argument('--folds', type=int, default=2, help='held-out-perturbation folds (within the first context); 0: none')
    ap.add_argument('--boot', type=int, default=300)
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--no-learned', action='store_true', help='leave out LearnedTransfer (the Lightning model), also from auto\'s candidates')
    ap.add_argument('--embedding-eval', action='store_true', help='also learned with an informative and with a random gene embedding of the targets')
    ap.add_argument('--embedding-noise', type=float, default=1.0, help='noise of the informative embedding, in units of its spread')
    ap.add_argument('--no-auto', action='store_true', help='leave auto out')
    ap.add_argument('--kinds', default='leave_context_out,heldout_perts', help='comma-separated CV kinds (heldout_perts needs --folds)')
    ap.add_argument('--out', default='runs/transfer_leaderboard')
    a = ap.parse_args()
    warnings.filterwarnings('ignore')
    from vcc.transfer import (multi_context_screen, evaluate_transfer, summarise_transfer, plot_transfer_leaderboard, transfer_candidates,
                              AutoTransfer, LearnedTransfer)
    out = Path(a.out); out.mkdir(parents=True, exist_ok=True)
    rows, t_all = [], time.perf_counter()
    for regime in a.regimes.split(','):
        t0 = time.perf_counter()
        rc = multi_context_screen(regime, contexts=tuple(a.contexts.split(',')), families=a.families, shared=a.shared, n_genes=a.genes,
                                  n_perts=a.perts, cells_per_pert=a.cells, n_control=a.controls, seed=a.seed)
        kinds = tuple(k for k in a.kinds.split(',') if k and (a.folds or k != 'heldout_perts'))
        cache = {}   # each context's reference side, shared by the outer folds and auto's inner ones
        cands = {k: v for k, v in transfer_candidates().items() if not (a.no_learned and k == 'learned')}
        models = {**cands} if a.no_auto else {**cands, 'auto': lambda: AutoTransfer(cands, reference_cache=cache, seed=a.seed)}
        if a.embedding_eval:
            for name, table in embeddings(rc, noise=a.embedding_noise, seed=a.seed).items():
                models[name] = lambda table=table: LearnedTransfer(gene_embedding=table)
        cv = evaluate_transfer(rc, models, kinds=kinds, n_folds=max(a.folds, 1), cells=a.cells, seed=a.seed, progress=True, cache=cache)
        summ = summarise_transfer(cv, n_boot=a.boot, seed=a.seed).assign(regime=regime)
        d = out/regime; d.mkdir(exist_ok=True)
        cv.per_perturbation.to_csv(d/'per_perturbation.csv', index=False); cv.table.to_csv(d/'table.csv', index=False); summ.to_csv(d/'summary.csv', index=False)
        rows.append(summ)
        print(f'{regime}: {time.perf_counter() - t0:.0f} s', flush=True)
    board = pd.concat(rows, ignore_index=True)
    cols = ['regime', 'kind', 'model', 'score', 'lo', 'hi', 'vs_baseline', 'vs_baseline_lo', 'vs_baseline_hi', 'vs_best', 'vs_best_lo', 'vs_best_hi',
            'of_oracle', 'of_oracle_lo', 'of_oracle_hi', 'best', 'fit_predict_s']
    board = board[[c for c in cols if c in board]]
    board.to_csv(out/'transfer_leaderboard.csv', index=False)
    fmt = lambda x: f'{x:.3f}' if isinstance(x, float) else str(x)
    md = ['| ' + ' | '.join(board.columns) + ' |', '|' + '---|' * len(board.columns)]
    md += ['| ' + ' | '.join(fmt(v) for v in r) + ' |' for r in board.itertuples(index=False)]
    (out/'transfer_leaderboard.md').write_text('\n'.join(md) + '\n')
    for kind in board.kind.unique(): plot_transfer_leaderboard(board, kind).savefig(out/f'transfer_leaderboard_{kind}.png', dpi=120)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(board.to_string(index=False, float_format=lambda x: f'{x:.3f}'))
    print(f'wall {time.perf_counter() - t_all:.0f} s, peak RSS {peak:,.0f} MB; written {out}/transfer_leaderboard.csv and .md')

if __name__ == '__main__': main()
