"""Scoring several predictions against one real screen, as the local leaderboard does for its models: `score_prediction(pred, real)`
for each prediction, against `summarise_real(real)` once and `score_prediction(pred, summary)` for each, in one process, on the same
in-memory AnnData objects (real: raw counts; predictions: log1p). Prints both wall times, their ratio, and checks the scores are equal.

    .venv/bin/python benchmarks/bench_many_preds.py                                  # ~12,000 cells x 18,080 genes, 20 perturbations, 4 predictions
    .venv/bin/python benchmarks/bench_many_preds.py --cells 3000 --genes 2000 --preds 8 --repeats 3
"""
import argparse, time
import numpy as np, pandas as pd
from vcc.metrics import synthetic_screen, score_prediction, summarise_real


def predictions(pred, n):
    "`n` predictions of the same cells: the synthetic one and copies with every value scaled, as different models would give."
    out = []
    for f in np.linspace(1.0, 0.8, n):
        p = pred.copy(); p.X = p.X * np.float32(f); out.append(p)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--cells', type=int, default=12_000); ap.add_argument('--perts', type=int, default=20)
    ap.add_argument('--genes', type=int, default=18_080); ap.add_argument('--preds', type=int, default=4)
    ap.add_argument('--repeats', type=int, default=2, help='rounds of both ways, alternating; medians are reported')
    args = ap.parse_args()
    n_control = max(args.cells // 6, 100)
    pred, real = synthetic_screen(n_perts=args.perts, cells_per_pert=(args.cells - n_control) // args.perts, n_control=n_control,
                                  n_genes=args.genes, depth=50_000, seed=0)
    preds = predictions(pred, args.preds)
    print(f'real {real.n_obs} cells x {real.n_vars} genes (counts), {args.perts} perturbations; {len(preds)} predictions', flush=True)
    score_prediction(preds[0], real)  # numba loads its kernels once per process: not part of either way
    each, once = [], []
    for r in range(args.repeats):  # alternating, so a slow spell of a noisy machine falls on both
        t = time.perf_counter(); a = [score_prediction(p, real)[0] for p in preds]; each.append(time.perf_counter() - t)
        t = time.perf_counter(); s = summarise_real(real); b = [score_prediction(p, s)[0] for p in preds]; once.append(time.perf_counter() - t)
        print(f'round {r + 1}: each pair {each[-1]:6.1f} s, summary once {once[-1]:6.1f} s', flush=True)
        for x, y in zip(a, b): pd.testing.assert_frame_equal(x, y)
    e, o = float(np.median(each)), float(np.median(once))
    print(f'{len(preds)} predictions: {e:.1f} s scoring each pair, {o:.1f} s with the real side summarised once '
          f'({e / o:.2f}x; medians of {args.repeats}); scores equal', flush=True)


if __name__ == '__main__': main()
