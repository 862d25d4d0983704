"""Benchmark the exploration stage (`vcc.explore.explore_screen`) on a full-size simulated training file.

Writes (once, cached) a challenge-sized simulated folder with `vcc.data.write_screen(**FULL_SIZE)`
(221,273 cells x 18,080 genes, ~50k UMI per cell, training file only), then runs every exploration
step from the streamed statistics and a capped cell sample, printing wall time and peak RSS per step.

    .venv/bin/python benchmarks/bench_explore.py                 # generate if needed, then benchmark
    .venv/bin/python benchmarks/bench_explore.py --data-only     # only write the cached file
    .venv/bin/python benchmarks/bench_explore.py --folder data/bench/full --chunk-size 20000
"""
from __future__ import annotations
import argparse, resource, time, json, os
from pathlib import Path

def peak_rss_gb() -> float:
    "Peak resident memory of this process so far (GB; Linux reports KiB)."
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--folder', default='data/bench/full', help='cached simulated challenge folder')
    ap.add_argument('--data-only', action='store_true', help='write the cached file and stop')
    ap.add_argument('--chunk-size', type=int, default=20_000, help='cells streamed at a time')
    ap.add_argument('--max-cells', type=int, default=200, help='cells sampled per perturbation (knockdown, DE)')
    ap.add_argument('--max-control', type=int, default=2000, help='control cells sampled')
    ap.add_argument('--figures', default=None, help='folder to save the figures into (optional)')
    args = ap.parse_args()

    from vcc.data import write_screen, FULL_SIZE, ChallengeFolder
    cf = ChallengeFolder(Path(args.folder))
    if not cf.training.exists():
        t = time.perf_counter()
        write_screen(cf.root, truth=False, seed=0, progress=True, **FULL_SIZE)
        print(f'wrote {cf.training} in {time.perf_counter() - t:.0f} s, peak RSS {peak_rss_gb():.2f} GB')
    print(f'{cf.training}: {cf.training.stat().st_size / 1e9:.1f} GB on disk')
    if args.data_only: return

    import vcc.explore as ex
    timings, rss = {}, {}
    class Laps(dict):  # records peak RSS whenever explore_screen records a step's time
        def __setitem__(self, k, v):
            super().__setitem__(k, v); rss[k] = peak_rss_gb()
    laps = Laps()
    t0 = time.perf_counter()
    res = ex.explore_screen(cf.training, max_cells=args.max_cells, max_control=args.max_control,
                            chunk_size=args.chunk_size, progress=False, timings=laps)
    total = time.perf_counter() - t0
    rows = [(k, v, rss[k]) for k, v in laps.items()]
    if args.figures:
        import matplotlib; matplotlib.use('Agg')
        t = time.perf_counter()
        out = Path(args.figures); out.mkdir(parents=True, exist_ok=True)
        figs = dict(cells=ex.plot_cells(res['stats'], res['balance']), knockdown=ex.plot_knockdown(res['knockdown']),
                    strength=ex.plot_strength(res['strength']), structure=ex.plot_structure(res['correlation'], res['pca'], res['strength']),
                    systematic=ex.plot_systematic(res['systematic'], res['delta']), batch=ex.plot_batch(res['batch']))
        for k, f in figs.items(): f.savefig(out/f'{k}.png', dpi=80)
        rows.append(('figures', time.perf_counter() - t, peak_rss_gb()))
    n_cells, n_genes = int(res['stats'].obs.n_cells.sum()), res['stats'].n_vars
    print(f'\nexplore_screen on {n_cells:,} cells x {n_genes:,} genes ({len(res["delta"])} perturbations), '
          f'{os.cpu_count()} CPUs, chunk {args.chunk_size:,}, sample {args.max_cells}/pert + {args.max_control} controls')
    print(f'{"step":<24}{"wall (s)":>10}{"peak RSS so far (GB)":>24}')
    for k, v, r in rows: print(f'{k:<24}{v:>10.1f}{r:>24.2f}')
    print(f'{"total":<24}{total:>10.1f}{peak_rss_gb():>24.2f}')
    st = res['strength'].strength.value_counts().to_dict()
    print('strength classes:', st, '| knockdown status:', res['knockdown'].status.value_counts().to_dict())
    print('systematic:', json.dumps({k: round(v, 3) for k, v in ex.systematic_summary(res['systematic']).items()}),
          '| batch:', json.dumps({k: round(v, 3) for k, v in ex.batch_summary(res['batch']).items()}))

if __name__ == '__main__': main()
