"""Time the two parts of `vcc.metrics` that grow with the data, one side at a time, single-threaded: laying out an h5ad's values
(read, value checks, row totals for counts, scatter into (group, gene) segments) and the per-gene DE (means, radix sort, rank walk).

Prints seconds and nanoseconds per stored value for each side of a benchmark pair (pred.h5ad holds log1p values, real.h5ad counts),
as medians of `--repeats` runs. `--root` imports vcc from another checkout instead (for example an earlier commit in a git worktree),
so two versions can be compared on the same files:

    .venv/bin/python benchmarks/bench_scorer_parts.py --data-dir /tmp/vcc_bench_data/small
    git worktree add /tmp/vcc_old <commit> && .venv/bin/python benchmarks/bench_scorer_parts.py --data-dir /tmp/vcc_bench_data/small --root /tmp/vcc_old

`--data-dir` is a folder `bench_scorer.py --data-dir` wrote (its small or large case); without it a small pair is made in a
temporary folder. Each version compiles its kernels once (numba's cache) before the timed runs.
"""
import argparse, os, sys, tempfile, time
from pathlib import Path
import numpy as np


def import_vcc(root):
    "vcc.metrics from this checkout, or from `root` (editable installs of this one are bypassed)."
    if root:
        sys.meta_path[:] = [f for f in sys.meta_path if 'editable' not in repr(f).lower()]
        sys.path.insert(0, str(Path(root).resolve()))
    import vcc.metrics as M
    return M


def side_parts(M, path, pert_col='target_gene', control='non-targeting'):
    "(layout seconds, DE seconds, stored values) of one h5ad, all gene blocks, single-threaded kernels."
    meta = M._stub(str(path), pert_col, 'x')
    groups, codes = M._group_codes(M._labels(meta, pert_col, 'x'))
    sizes, ctrl = np.bincount(codes, minlength=len(groups)), int(np.flatnonzero(groups == control)[0])
    nnz = M._h5_csr_size(str(path))[0]
    t_layout = t_de = 0.0
    blocks = M._h5_layouts(str(path), codes, len(groups), M._n_blocks(nnz), pool={}, serial=True)
    while True:
        t0 = time.perf_counter()
        try: _, _, lay = next(blocks)
        except StopIteration: break
        t1 = time.perf_counter()
        M._layout_de(lay, sizes, ctrl, True)
        t_layout, t_de = t_layout + t1 - t0, t_de + time.perf_counter() - t1
        del lay
    return t_layout, t_de, nnz


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--data-dir', default=None, help='folder with pred.h5ad and real.h5ad (from bench_scorer.py --data-dir)')
    ap.add_argument('--root', default=None, help='import vcc from this checkout instead of the installed one')
    ap.add_argument('--repeats', type=int, default=3)
    args = ap.parse_args()
    M = import_vcc(args.root)
    print(f'vcc.metrics from {Path(M.__file__).parent.parent}', flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(args.data_dir) if args.data_dir else Path(tmp)
        if not args.data_dir:  # a small pair, as bench_scorer.py's small case makes it
            pred, real = M.synthetic_screen(n_perts=20, cells_per_pert=(12_000 - 2000) // 20, n_control=2000, n_genes=18_080,
                                            depth=50_000, seed=0)
            pred.write_h5ad(d / 'pred.h5ad'); real.write_h5ad(d / 'real.h5ad')
        for name in ('pred', 'real'):
            path = d / f'{name}.h5ad'
            side_parts(M, path)  # compile or load the kernels, and read the file into the page cache
            runs = [side_parts(M, path) for _ in range(args.repeats)]
            lay, de = (float(np.median(col)) for col in list(zip(*runs))[:2])
            nnz = runs[0][2]
            print(f'{name}: {nnz:,} stored values; layout {lay:.3f} s ({lay / nnz * 1e9:.1f} ns a value), '
                  f'DE {de:.3f} s ({de / nnz * 1e9:.1f} ns a value)  [medians of {args.repeats}, one thread]', flush=True)


if __name__ == '__main__': main()
