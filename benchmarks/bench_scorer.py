"""Benchmark `vcc.metrics.score_prediction` against `cell-eval run --profile vcc` on synthetic screens.

Both scorers run in their own subprocess under `/usr/bin/time -v` with 2 threads, so wall time, CPU time and peak RSS
compare like for like. Each timed run starts warm: the scorer has just scored a tiny screen (its code in the page cache) and
its input files have just been read (`rehearse`, `warm`). First it times vcc's cold start, the part of every vcc figure that
does not grow with the data: a fresh process importing vcc.metrics and scoring a tiny screen with all 18,080 genes, twice
(the first score also loads numba's kernels). Usage:

    .venv/bin/python benchmarks/bench_scorer.py                      # small and large default cases
    .venv/bin/python benchmarks/bench_scorer.py --cases small
    .venv/bin/python benchmarks/bench_scorer.py --cases custom --cells 5000 --perts 10 --genes 18080
    .venv/bin/python benchmarks/bench_scorer.py --cases large --data-dir /tmp/vcc_bench_data   # reuse the h5ads of an earlier run
    .venv/bin/python benchmarks/bench_scorer.py --cases small --repeats 3   # each scorer 3 times, alternating; medians
    .venv/bin/python benchmarks/bench_scorer.py --cases small --no-rehearsal   # without the untimed tiny score before each run

Commands that need more than 4 GB (the large case, cell-eval) belong under `flock /tmp/vcc_heavy.lock` on a shared machine.
"""
import argparse, os, re, shutil, subprocess, sys, tempfile, time
from pathlib import Path
import numpy as np, pandas as pd

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
CASES = {'small': dict(cells=12_000, perts=20, genes=18_080), 'large': dict(cells=55_000, perts=50, genes=18_080)}

VCC_CHILD = """
import sys
from vcc.metrics import score_prediction, fast_process
with fast_process(freeze_at_exit=True):  # as the `vcc score` command runs it: a process of its own
    res, agg = score_prediction(sys.argv[1], sys.argv[2], rules='installed')  # installed cell-eval's rules
res.to_csv(sys.argv[3], index=False)
"""

COLD_CHILD = """
import sys, time
t0 = time.perf_counter()
from vcc.metrics import score_prediction, fast_process
t1 = time.perf_counter()
def score():
    with fast_process(): score_prediction(sys.argv[1], sys.argv[2], rules='installed')
score(); t2 = time.perf_counter()
score(); t3 = time.perf_counter()
open(sys.argv[3], 'w').write(f'{t1 - t0} {t2 - t1} {t3 - t2}')  # import, first score, second score (seconds)
"""

WARM_UP = """
import tempfile, os
from vcc.metrics import *
with fast_process():  # the kernels the timed runs will load, under the same settings
    p, r = synthetic_screen(3, 10, 20, 50)
    c, _ = synthetic_screen(3, 10, 20, 50, pred_log1p=False)
    score_prediction(p, r); score_prediction(p, r, fdr_scope='per_perturbation', fold_change_clip=None)
    with tempfile.TemporaryDirectory() as d:
        for a, n in ((p, 'p'), (r, 'r'), (c, 'c')): a.write_h5ad(os.path.join(d, n + '.h5ad'))
        for n in 'pc': score_prediction(os.path.join(d, n + '.h5ad'), os.path.join(d, 'r.h5ad'), fdr_scope='per_perturbation', fold_change_clip=None)
        for n in 'pc': score_prediction(os.path.join(d, n + '.h5ad'), r, fdr_scope='per_perturbation', fold_change_clip=None)  # a file on all threads
"""


def timed(cmd, env):
    "Run `cmd` under /usr/bin/time -v: (wall seconds, peak RSS in GB, CPU seconds: user + system)."
    t0 = time.perf_counter()
    p = subprocess.run(['/usr/bin/time', '-v', *cmd], env=env, capture_output=True, text=True, cwd=ROOT)
    wall = time.perf_counter() - t0
    if p.returncode != 0: raise RuntimeError(f'{cmd[0]} failed:\n{p.stdout[-2000:]}\n{p.stderr[-4000:]}')
    rss_kb = int(re.search(r'Maximum resident set size \(kbytes\): (\d+)', p.stderr).group(1))
    cpu = sum(float(re.search(rf'{k} time \(seconds\): ([\d.]+)', p.stderr).group(1)) for k in ('User', 'System'))
    return wall, rss_kb / 1024**2, cpu


def make_data(cells, perts, genes, outdir, seed=0):
    "Write pred.h5ad (log1p, as a prepped submission) and real.h5ad (raw counts) of a synthetic screen."
    from vcc.metrics import synthetic_screen
    n_control = max(cells // 6, 100)
    pred, real = synthetic_screen(n_perts=perts, cells_per_pert=(cells - n_control) // perts, n_control=n_control,
                                  n_genes=genes, depth=50_000, seed=seed)
    paths = outdir / 'pred.h5ad', outdir / 'real.h5ad'
    pred.write_h5ad(paths[0]); real.write_h5ad(paths[1])
    density = real.X.nnz / np.prod(real.shape)
    return paths, real.shape, density


def warm(paths, prime_gb=3):
    """Read files once so each scorer starts with them in the page cache, and touch `prime_gb` of memory: on a VM, memory freed by a
    previous big run (cell-eval's 15 GB) is slow to touch again (~2 ms/MB), a cost that would fall on whichever scorer runs next."""
    for p in paths:
        with open(p, 'rb') as f:
            while f.read(1 << 24): pass
    np.ones(int(prime_gb * 2**30), dtype=np.uint8)


def rehearse(cmd, env):
    """Run a scorer once, untimed, on the tiny screen, just before its timed run, so that its code (Python packages, shared
    libraries, numba's cache) is in the page cache as its data is after `warm`. This VM's memory reclaim (DAMON) pages out file
    pages left idle for about a minute, and whichever scorer ran longest ago (vcc, after cell-eval's minute) would otherwise read
    its code from disk: vcc's first run right after cell-eval was 0.1-0.25 s slower than a second one (4 pairs, ad hoc)."""
    subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=ROOT, check=True)


def vcc_cmd(pred, real, out):
    return [sys.executable, '-c', VCC_CHILD, str(pred), str(real), str(out)]


def cell_eval_cmd(pred, real, out, threads):
    return [str(BIN / 'cell-eval'), 'run', '-ap', str(pred), '-ar', str(real), '--profile', 'vcc', '--num-threads', str(threads),
            '-o', str(out), '--control-pert', 'non-targeting', '--pert-col', 'target_gene']


def cached_data(cells, perts, genes, d):
    "`make_data`, or the files it wrote into `d` before for the same sizes."
    stamp, paths = d / 'sizes.txt', (d / 'pred.h5ad', d / 'real.h5ad')
    if stamp.exists() and stamp.read_text() == f'{cells} {perts} {genes}' and all(p.exists() for p in paths):
        import h5py
        with h5py.File(paths[1], 'r') as f: shape, nnz = tuple(int(v) for v in f['X'].attrs['shape']), f['X/data'].shape[0]
        return paths, shape, nnz / np.prod(shape)
    out = make_data(cells, perts, genes, d)
    stamp.write_text(f'{cells} {perts} {genes}')
    return out


def thread_env(threads):
    "The environment that holds every scorer's thread pools to `threads`."
    return dict(os.environ, NUMBA_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads),
                MKL_NUM_THREADS=str(threads), POLARS_MAX_THREADS=str(threads))


def tiny_screen(tmp, genes=18_080):
    "(pred, real) h5ad paths of a tiny screen (3 perturbations, ~120 cells, `genes` genes): the cold start's, and each rehearsal's."
    d = Path(tmp) / 'cold'; d.mkdir(exist_ok=True)
    return make_data(120, 3, genes, d)[0]


def cold_start(threads, tiny, repeats=3):
    """Seconds a fresh vcc process takes to import vcc.metrics and score the `tiny_screen` (all 18,080 genes), medians of `repeats`
    processes; prints the parts, and a second score in the same process (the first also loads numba's kernels)."""
    (pred, real), d = tiny, Path(tiny[0]).parent
    runs, parts = [], []
    for _ in range(repeats):
        runs.append(timed([sys.executable, '-c', COLD_CHILD, str(pred), str(real), str(d / 'times.txt')], thread_env(threads)))
        parts.append([float(x) for x in (d / 'times.txt').read_text().split()])
    wall, _, cpu = (float(np.median(col)) for col in zip(*runs))
    imp, first, second = (float(np.median(col)) for col in zip(*parts))
    print(f'cold start, a fresh process scoring 3 perturbations x 18080 genes of ~120 cells (medians of {repeats}; the process '
          f'scores twice): import {imp:.2f} s, first score {first:.2f} s, second {second:.2f} s; whole process {wall:.2f} s wall, '
          f'{cpu:.2f} s CPU', flush=True)
    return imp + first


def run_case(name, cells, perts, genes, threads, tmp, tiny, reuse=False, repeats=1, rehearsal=True):
    print(f'\n== {name}: ~{cells} cells x {genes} genes, {perts} perturbations', flush=True)
    d = Path(tmp) / name; d.mkdir(parents=reuse, exist_ok=reuse)  # --data-dir is made if it is new
    t0 = time.perf_counter()
    (pred, real), shape, density = (cached_data if reuse else make_data)(cells, perts, genes, d)
    print(f'data: real {shape[0]} cells x {shape[1]} genes, density {density:.2f} (ready in {time.perf_counter() - t0:.0f} s)', flush=True)
    env = thread_env(threads)
    vcc_csv, ce_out = d / 'vcc_results.csv', d / 'cell-eval'
    runs = []  # the scorers alternate, so a slow spell of a noisy machine falls on both
    for r in range(repeats):
        if rehearsal: rehearse(vcc_cmd(*tiny, Path(tiny[0]).parent / 'rehearsal.csv'), env)
        warm([pred, real])
        v_wall, v_rss, v_cpu = timed(vcc_cmd(pred, real, vcc_csv), env)
        print(f'run {r + 1}: vcc       : {v_wall:7.1f} s  peak RSS {v_rss:6.2f} GB  CPU {v_cpu:6.1f} s', flush=True)
        shutil.rmtree(ce_out, ignore_errors=True)  # no stale results from an earlier run
        if rehearsal:
            shutil.rmtree(Path(tiny[0]).parent / 'rehearsal', ignore_errors=True)
            rehearse(cell_eval_cmd(*tiny, Path(tiny[0]).parent / 'rehearsal', threads), env)
        warm([pred, real])
        c_wall, c_rss, c_cpu = timed(cell_eval_cmd(pred, real, ce_out, threads), env)
        print(f'run {r + 1}: cell-eval : {c_wall:7.1f} s  peak RSS {c_rss:6.2f} GB  CPU {c_cpu:6.1f} s  (speed-up {c_wall / v_wall:.1f}x)', flush=True)
        runs.append((v_wall, v_rss, c_wall, c_rss, v_cpu, c_cpu))
    ours = pd.read_csv(vcc_csv).set_index('perturbation')
    theirs = pd.read_csv(ce_out / 'results.csv').set_index('perturbation').loc[ours.index]
    diff = {m: float(np.abs(ours[m] - theirs[m]).max()) for m in ours.columns}
    v_wall, v_rss, c_wall, c_rss, v_cpu, c_cpu = (float(np.median(col)) for col in zip(*runs))
    speedups = [c / v for v, _, c, *_ in runs]
    print(f'speed-up {c_wall / v_wall:.1f}x (medians of {repeats} run(s); per run {", ".join(f"{x:.1f}x" for x in speedups)}), '
          f'memory {v_rss / c_rss:.3f} of cell-eval; max |diff| per metric: {diff}', flush=True)
    return dict(case=name, cells=shape[0], genes=shape[1], perts=perts, density=round(density, 3), runs=repeats,
                vcc_s=round(v_wall, 1), cell_eval_s=round(c_wall, 1), vcc_cpu_s=round(v_cpu, 1), cell_eval_cpu_s=round(c_cpu, 1),
                vcc_gb=round(v_rss, 2), cell_eval_gb=round(c_rss, 2),
                speedup=round(c_wall / v_wall, 1), speedup_min=round(min(speedups), 1), speedup_max=round(max(speedups), 1),
                mem_ratio=round(v_rss / c_rss, 3), max_abs_diff=max(diff.values()))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--cases', nargs='+', default=['small', 'large'], choices=[*CASES, 'custom'])
    ap.add_argument('--cells', type=int, default=12_000, help='cells for --cases custom')
    ap.add_argument('--perts', type=int, default=20, help='perturbations for --cases custom')
    ap.add_argument('--genes', type=int, default=18_080, help='genes for --cases custom')
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--repeats', type=int, default=1, help='runs of each scorer, alternating; medians are reported')
    ap.add_argument('--tmpdir', default=None, help='where to write the h5ads (default: system temp)')
    ap.add_argument('--no-rehearsal', action='store_true', help='time each scorer without scoring the tiny screen first (see `rehearse`)')
    ap.add_argument('--data-dir', default=None, help='keep the h5ads here and reuse them in later runs (same sizes)')
    args = ap.parse_args()
    # vcc's bytecode, as pip writes it for an installed package (cell-eval's and every dependency's is there): an editable checkout
    # run with PYTHONDONTWRITEBYTECODE=1 (as in some containers) would otherwise compile vcc/metrics.py on every import (~20 ms)
    subprocess.run([sys.executable, '-m', 'compileall', '-q', str(ROOT / 'vcc')], check=True)
    # warm numba's on-disk cache once (a one-off compile per install, not part of scoring): in memory, from two h5ad files at once
    # (one thread each) and from one file beside an AnnData (all threads), so no kernel variant compiles inside a timed run
    subprocess.run([sys.executable, '-c', WARM_UP], cwd=ROOT, check=True, capture_output=True)
    rows = []
    with tempfile.TemporaryDirectory(dir=args.tmpdir) as tmp:
        tiny = tiny_screen(tmp)
        cold_s = cold_start(args.threads, tiny)
        for name in args.cases:
            size = CASES.get(name, dict(cells=args.cells, perts=args.perts, genes=args.genes))
            rows.append(run_case(name, **size, threads=args.threads, tmp=args.data_dir or tmp, tiny=tiny, reuse=bool(args.data_dir),
                                 repeats=args.repeats, rehearsal=not args.no_rehearsal) | dict(vcc_cold_s=round(cold_s, 2)))
    print('\n' + pd.DataFrame(rows).to_string(index=False))


if __name__ == '__main__': main()
