"""Measure the data layer at the challenge's full size: write a 221,273 x 18,080 simulated training
file (~50k UMI per cell) and stream it to per-perturbation statistics. Each step runs in its own
process so its peak RSS is its own. Prints wall time and peak RSS; asserts nothing.

    .venv/bin/python benchmarks/bench_data.py            # reuses data/bench/full if it exists
    .venv/bin/python benchmarks/bench_data.py --fresh    # simulate the file again
"""
import argparse, json, resource, subprocess, sys, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FOLDER = ROOT/'data'/'bench'/'full'

def step_generate(folder):
    from vcc.data import write_screen, FULL_SIZE
    write_screen(folder, truth=False, overwrite=True, **FULL_SIZE)

def step_stats(folder):
    from vcc.data import perturbation_stats, ChallengeFolder
    st = perturbation_stats(ChallengeFolder(folder).training)
    print(f'  {st.n_obs} groups x {st.n_vars} genes, {st.obs.n_cells.sum():,} cells, target_sum {st.uns["target_sum"]:.0f}', file=sys.stderr)

STEPS = {'generate': step_generate, 'stats': step_stats}

def run_step(name, folder):
    "Run one step in a fresh process; its wall time and peak RSS."
    t = time.perf_counter()
    out = subprocess.run([sys.executable, __file__, '--step', name, '--folder', str(folder)], check=True, stdout=subprocess.PIPE, text=True).stdout
    return dict(step=name, wall_s=round(time.perf_counter() - t, 1), **json.loads(out.strip().splitlines()[-1]))

if __name__ == '__main__':
    p = argparse.ArgumentParser()
    p.add_argument('--step', choices=list(STEPS)); p.add_argument('--folder', type=Path, default=FOLDER); p.add_argument('--fresh', action='store_true')
    a = p.parse_args()
    if a.step:
        STEPS[a.step](a.folder)
        print(json.dumps(dict(peak_rss_gb=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2))))
        sys.exit(0)
    steps = (['generate'] if a.fresh or not (a.folder/'adata_Training.h5ad').exists() else []) + ['stats']
    rows = [run_step(s, a.folder) for s in steps]
    size_gb = (a.folder/'adata_Training.h5ad').stat().st_size / 2**30
    print(f'\nfull-size training file: {a.folder/"adata_Training.h5ad"} ({size_gb:.1f} GB on disk)')
    for r in rows: print(f"{r['step']:>10}: wall {r['wall_s']:7.1f} s   peak RSS {r['peak_rss_gb']:5.2f} GB")
