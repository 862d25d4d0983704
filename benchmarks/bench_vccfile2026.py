"""Pack a 2026 prediction into a .vcc: vcc.vccfile.write_vcc_2026 (streamed from the h5ad in row chunks) against vcc-cli 0.3.0's own `vcc prep`.

Prints wall time and peak memory of each (each in its own process; for ours also the peak anonymous memory), the sizes,
and whether the two .vcc files are byte for byte the same.
Asserts nothing. Needs ./run vcc-cli (it builds .venv-vcccli).

    flock /tmp/vcc_heavy.lock .venv/bin/python benchmarks/bench_vccfile2026.py --perts 20 --contexts 3
"""
import argparse, json, os, resource, subprocess, sys, tempfile, time
from pathlib import Path
import numpy as np, pandas as pd, scipy.sparse as sp, anndata as ad

ROOT = Path(__file__).resolve().parents[1]

OURS = r'''
import sys, json, time, threading, resource
from pathlib import Path
from vcc.data import iter_X_chunks, read_obs_var
from vcc.vccfile import write_vcc_2026
peak = [0]
def watch():  # peak anonymous memory (RSS less mapped files and libraries)
    while True:
        for line in open('/proc/self/status'):
            if line.startswith('RssAnon:'): peak[0] = max(peak[0], int(line.split()[1]) * 1024)
        time.sleep(0.02)
threading.Thread(target=watch, daemon=True).start()
h5, out, meta = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
t = time.perf_counter()
obs, var = read_obs_var(h5)
write_vcc_2026(out, (m for _, _, m in iter_X_chunks(h5, chunk_size=4_000)), obs, var.index, meta['contexts'], targets=meta['targets'], panel_id=meta['panel_id'])
hwm = [int(l.split()[1]) * 1024 for l in open('/proc/self/status') if l.startswith('VmHWM:')][0]  # this image's peak (ru_maxrss keeps the forking parent's)
print(json.dumps(dict(wall=time.perf_counter() - t, peak_rss=hwm, peak_anon=peak[0])))
'''

TIMED = r'''
import sys, json, time, resource, subprocess
t = time.perf_counter()
res = subprocess.run(sys.argv[1:], capture_output=True, text=True)
if res.returncode: sys.exit(res.stdout + res.stderr)
print(json.dumps(dict(wall=time.perf_counter() - t, peak_rss=resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024)))
'''


def make_prediction(folder, n_genes, n_perts, contexts, cells, seed=0):
    "A 2026-shaped prediction of raw counts (control cells drawn from the simulator, rescaled per perturbation) and its bundle files."
    from vcc.contexts import make_context_screen, context_adata
    from vcc.submit2026 import emit_counts
    screen = make_context_screen(targets=('A',), training=(), n_genes=n_genes, n_perts=max(n_perts, 1), cells_per_pert=1, n_control=1_000, median_umi=20_000, seed=seed)
    pool = context_adata(screen, 'A', perts=False).X
    rng = np.random.default_rng(seed)
    genes, targets = screen.genes, screen.perts[:n_perts]
    blocks, labels, ctx = [], [], []
    for c in contexts:
        for t in targets:
            blocks.append(emit_counts(pool, np.exp(rng.normal(0, 0.3, n_genes)), cells, rng)); labels += [t] * cells; ctx += [c] * cells
    obs = pd.DataFrame({'target_gene': labels, 'context': ctx}, index=[f'cell{i}' for i in range(len(labels))])
    ad.AnnData(sp.vstack(blocks, format='csr'), obs=obs, var=pd.DataFrame(index=genes)).write_h5ad(folder/'pred.h5ad')
    pd.DataFrame({'gene_name': genes}).to_csv(folder/'gene_names.csv', index=False)
    pd.DataFrame({'target_gene': targets}).to_csv(folder/'pert_counts.csv', index=False)
    meta = dict(contexts=list(contexts), partition='validation', panel_id='bench')
    (folder/'manifest.json').write_text(json.dumps(meta))
    return meta | dict(targets=list(targets))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--genes', type=int, default=18_533)
    ap.add_argument('--perts', type=int, default=20)
    ap.add_argument('--contexts', type=int, default=3)
    ap.add_argument('--cells', type=int, default=400)
    ap.add_argument('--tmp', default=None, help='scratch folder (default: the system temporary folder)')
    a = ap.parse_args()
    cli = ROOT/'.venv-vcccli'/'bin'/'vcc'
    if not cli.exists(): sys.exit('vcc-cli is not installed: run ./run vcc-cli first')
    with tempfile.TemporaryDirectory(dir=a.tmp) as d:
        d = Path(d)
        t = time.perf_counter()
        meta = make_prediction(d, a.genes, a.perts, 'ABCDEF'[:a.contexts], a.cells)
        made = time.perf_counter() - t
        import h5py
        with h5py.File(d/'pred.h5ad', 'r') as f: n_obs, nnz = int(f['X'].attrs['shape'][0]), int(f['X']['data'].shape[0])
        ours = json.loads(subprocess.run([sys.executable, '-c', OURS, str(d/'pred.h5ad'), str(d/'ours.vcc'), json.dumps(meta)],
                                         capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1])
        cmd = [str(cli), 'prep', str(d/'pred.h5ad'), '-g', str(d/'gene_names.csv'), '--perts', str(d/'pert_counts.csv'),
               '--cells-per-pert', str(a.cells), '--expected-gene-dim', str(a.genes), '-o', str(d/'cli.vcc')]
        res = subprocess.run([sys.executable, '-c', TIMED, *cmd], capture_output=True, text=True)
        if res.returncode: sys.exit(f'vcc prep failed: {res.stderr[-1000:]}')
        timed = json.loads(res.stdout.strip().splitlines()[-1])
        cli_wall, cli_rss = timed['wall'], timed['peak_rss']
        same = (d/'ours.vcc').read_bytes() == (d/'cli.vcc').read_bytes()
        try: import zstandard; engine = 'python-zstandard'  # noqa: F401
        except ImportError: engine = 'zstd command (python-zstandard missing in .venv: compressed bytes differ, h5ad and meta.json do not)'
        h5 = lambda p: subprocess.run(f'tar -xOf {p} pred.h5ad.zst | zstd -dcq | sha256sum', shell=True, capture_output=True, text=True).stdout.split()[0]
        gb = 2**30
        print(f'prediction: {n_obs:,} cells x {a.genes:,} genes, {nnz:,} stored values ({nnz / n_obs:,.0f} per cell); h5ad {(d/"pred.h5ad").stat().st_size / gb:.2f} GB, made in {made:.0f} s')
        print(f'.vcc: ours {(d/"ours.vcc").stat().st_size / gb:.3f} GB, vcc-cli {(d/"cli.vcc").stat().st_size / gb:.3f} GB; compressor: {engine}')
        print(f'{"packer":<28}{"wall s":>8}{"peak RSS GB":>13}{"peak anon GB":>14}')
        print(f'{"vcc.vccfile.write_vcc_2026":<28}{ours["wall"]:>8.1f}{ours["peak_rss"] / gb:>13.2f}{ours["peak_anon"] / gb:>14.2f}')
        print(f'{"vcc-cli 0.3.0 vcc prep":<28}{cli_wall:>8.1f}{cli_rss / gb:>13.2f}{"":>14}')
        print(f'ratio (ours / vcc-cli): wall {ours["wall"] / cli_wall:.2f}, peak RSS {ours["peak_rss"] / cli_rss:.2f}')
        print(f'identical .vcc bytes: {same}; identical h5ad inside: {h5(d/"ours.vcc") == h5(d/"cli.vcc")}')


if __name__ == '__main__':
    main()
