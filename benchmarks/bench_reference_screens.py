"""Reference screens to pseudobulk statistics (issue 24): how long and how much memory `vcc.public_screens` needs to turn
public screens of 2 million cells x 18,533 genes into per-perturbation statistics (summed counts and split halves per
perturbation, on the 2026 gene list). Target: under 30 minutes on 2 cores at under 8 GB.

Simulated data, each step in its own process (its peak RSS is its own); prints wall time, cells per second, peak RSS
and the extrapolation to --target-cells; asserts nothing.

- `reduce`: the reducer alone (`StatsAccumulator.add`) on chunks drawn from a pool of simulated cells (NB counts of
  the programs simulator at --umi per cell), at the full gene count and the full number of perturbations (the genome-wide
  K562 screen's ~10,000 plus controls), so its memory is the full size's; --cells of the stream are timed.
- `file`: a file of --file-cells in the Replogle 2022 layout (Ensembl index, `gene_name`, `gene`, `UMI_count`) written
  chunk by chunk, stored as the published files are (--storage dense: a dense float32 X, obs/var in anndata 0.7's
  encoding; csr: as anndata writes a sparse X today), then `stream_screen` on it: reading, checking every count,
  mapping, reducing. A dense file is 4 bytes per cell and gene (60,000 x 18,533: 4.4 GB) in --tmp.

Time grows with the cells (and their stored values); memory does not (it is the statistics, perturbations x genes).

    flock /tmp/vcc_heavy.lock .venv/bin/python benchmarks/bench_reference_screens.py                 # reduced size, extrapolated
    flock /tmp/vcc_heavy.lock .venv/bin/python benchmarks/bench_reference_screens.py --cells 2000000 --file-cells 0   # full stream
"""
import argparse, json, resource, subprocess, sys, time, tempfile
from pathlib import Path
import numpy as np

def pool_cells(n_genes, n_pool, umi, seed=0):
    "A pool of simulated raw-count cells (CSR float32) and the genes' names."
    from vcc.data import make_screen_model, sample_counts
    m = make_screen_model(n_genes=n_genes, n_train=20, n_val=0, n_test=0, n_control=n_pool, median_umi=umi, seed=seed)
    rng = np.random.default_rng(seed)
    parts = [sample_counts(m, np.full(min(1000, n_pool - i), -1), rng.choice(m.batch_shift.index.to_numpy(), min(1000, n_pool - i)), rng) for i in range(0, n_pool, 1000)]
    import scipy.sparse as sp
    return sp.vstack(parts, format='csr'), m.genes.index.to_numpy()

def labels_for(n, n_perts, rng, control_share=0.1):
    perts = np.array([f'P{i:05d}' for i in range(n_perts)] + ['non-targeting'])
    p = np.full(n_perts + 1, (1 - control_share) / n_perts); p[-1] = control_share
    return perts, perts[rng.choice(n_perts + 1, n, p=p)]

def gene_list(screen_genes, rng):
    "The 2026 list as the screen sees it: its genes shuffled, 2% replaced by genes it lacks."
    g = rng.permutation(screen_genes).astype(object)
    g[: len(g) // 50] = [f'ABSENT{i}' for i in range(len(g) // 50)]
    return g

def step_reduce(a):
    from vcc.public_screens import StatsAccumulator
    import pandas as pd
    rng = np.random.default_rng(1)
    t = time.perf_counter(); pool, genes = pool_cells(a.genes, a.pool, a.umi); t_pool = time.perf_counter() - t
    groups, _ = labels_for(1, a.perts, rng)
    listed = gene_list(genes, rng)
    acc = StatsAccumulator(listed, pd.Index(genes).get_indexer(listed), groups)
    t_red, nnz = 0.0, 0
    for start in range(0, a.cells, a.chunk):
        n = min(a.chunk, a.cells - start)
        X = pool[rng.integers(0, pool.shape[0], n)]
        _, lab = labels_for(n, a.perts, rng)
        nnz += X.nnz
        t = time.perf_counter(); acc.add(X, lab); t_red += time.perf_counter() - t
    t = time.perf_counter(); st = acc.result('K562', source='bench'); t_res = time.perf_counter() - t
    return dict(pool_s=round(t_pool, 1), reduce_s=round(t_red, 1), result_s=round(t_res, 1), cells=a.cells, nnz_per_cell=round(nnz / a.cells),
                groups=len(st.perts) + 1, genes=len(st.genes), missing=int(st.missing.sum()), seconds=t_red, fixed_s=t_res)

def step_file(a):
    import pandas as pd, scipy.sparse as sp
    from vcc.data import write_h5ad_chunked
    from vcc.public_screens import stream_screen, write_dense_h5ad
    rng = np.random.default_rng(2)
    pool, genes = pool_cells(a.genes, a.pool, a.umi)
    listed = gene_list(genes, rng)
    ids = np.array([f'ENSG{i:011d}' for i in range(len(genes))])
    var = pd.DataFrame({'gene_name': genes}, index=pd.Index(ids, name='gene_id'))
    def chunks():
        for start in range(0, a.file_cells, a.chunk):
            n = min(a.chunk, a.file_cells - start)
            X = pool[rng.integers(0, pool.shape[0], n)]
            _, lab = labels_for(n, a.perts, rng)
            obs = pd.DataFrame({'gem_group': 1, 'gene': lab, 'gene_id': lab, 'transcript': 'P1P2', 'gene_transcript': lab, 'sgID_AB': lab,
                                'mitopercent': np.float32(0.05), 'UMI_count': np.asarray(X.sum(1)).ravel().astype(np.float32)})
            yield obs, X
    with tempfile.TemporaryDirectory(dir=a.tmp) as d:
        f = Path(d)/'K562_gwps_raw_singlecell_01.h5ad'
        t = time.perf_counter()
        if a.storage == 'dense': write_dense_h5ad(f, var, ((o.set_axis(pd.Index([f'c{start + i}' for i in range(len(o))], name='cell_barcode')), X) for start, (o, X) in _starts(chunks())), a.file_cells)
        else: write_h5ad_chunked(f, var, chunks())
        t_write = time.perf_counter() - t
        size = f.stat().st_size
        t = time.perf_counter(); st = stream_screen(f, 'replogle2022', genes=listed, chunk_size=a.chunk); t_read = time.perf_counter() - t
    return dict(write_s=round(t_write, 1), stream_s=round(t_read, 1), cells=a.file_cells, file_gb=round(size / 2**30, 2), storage=a.storage,
                groups=len(st.perts) + 1, genes=len(st.genes), missing=int(st.missing.sum()), seconds=t_read)

def _starts(chunks):
    "(first cell, chunk) of each (obs, X) chunk."
    start = 0
    for o, X in chunks: yield start, (o, X); start += X.shape[0]

STEPS = {'reduce': step_reduce, 'file': step_file}

def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--step', choices=list(STEPS))
    p.add_argument('--genes', type=int, default=18_533); p.add_argument('--perts', type=int, default=9_867, help='perturbations (genome-wide K562: 9,867)')
    p.add_argument('--umi', type=float, default=20_000, help='median UMI per cell'); p.add_argument('--pool', type=int, default=3_000)
    p.add_argument('--cells', type=int, default=200_000, help='cells streamed through the reducer'); p.add_argument('--file-cells', type=int, default=60_000, help='cells of the written file (0: skip)')
    p.add_argument('--chunk', type=int, default=20_000); p.add_argument('--target-cells', type=int, default=2_000_000)
    p.add_argument('--storage', choices=['dense', 'csr'], default='dense', help="the file step's X: dense as the published files (default), or CSR")
    p.add_argument('--tmp', default=None, help='folder for the temporary file')
    a = p.parse_args()
    if a.step:
        out = STEPS[a.step](a)
        out['peak_rss_gb'] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2)
        print(json.dumps(out)); return
    args = [a for a in sys.argv[1:]]
    fixed = 0.0   # the one-off cost of handing the statistics out (perturbations x genes), measured by the reduce step
    for step in ['reduce'] + (['file'] if a.file_cells else []):
        t = time.perf_counter()
        r = json.loads(subprocess.run([sys.executable, __file__, '--step', step, *args], check=True, stdout=subprocess.PIPE, text=True).stdout.strip().splitlines()[-1])
        fixed = r.get('fixed_s', fixed)
        per = max(r['seconds'] - (0 if 'fixed_s' in r else fixed), 1e-9) / r['cells']   # the file step's time includes the fixed part
        print(f"{step}: {json.dumps(r)}; wall {time.perf_counter() - t:.0f} s")
        print(f"  {1 / per:,.0f} cells/s -> {a.target_cells:,} cells x {a.genes:,} genes in about {(per * a.target_cells + fixed) / 60:.1f} min "
              f"(linear in cells from {r['cells']:,} cells, plus {fixed:.0f} s once); peak RSS {r['peak_rss_gb']} GB at the full gene and perturbation count", flush=True)

if __name__ == '__main__': main()
