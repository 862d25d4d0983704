"""The 2026 score's speed: vcc.metrics2026 beside cell-eval2 0.20.0 (vcc2026, CPU, pdex) and alone at full size.

    flock /tmp/vcc_heavy.lock .venv/bin/python benchmarks/bench_score2026.py                 # reduced size, both scorers
    flock /tmp/vcc_heavy.lock .venv/bin/python benchmarks/bench_score2026.py --size full     # one full context, vcc alone
    flock /tmp/vcc_heavy.lock .venv/bin/python benchmarks/bench_score2026.py --bundle        # vcc score --real BUNDLE: first and second score

Reduced: one context of 20 perturbations x 400 cells and 2,000 controls over 2,000 genes (~2,200 UMI a cell). Full: one
context as the challenge's (300 x 400 predicted cells, 18,400 controls, 18,533 genes, ~20k UMI a cell), scored given its
cached reference (built first, once, and timed apart). Every scorer runs in its own process, so its peak RSS is its own.
Prints wall time, peak RSS and the ratio; asserts nothing. Data goes to --data (default /tmp/vcc_bench2026).

--bundle: what `vcc score --edition 2026 SUBMISSION.vcc --real BUNDLE` costs on the simulated demo bundle (three contexts of
30 x 400 cells and 2,000 controls over 2,000 genes) and the context-mean baseline's 400-cell submission: the reference
of the bundle's concatenated cells computed every time (no cache), then `summarise_real_2026(BUNDLE)` cached, scored
twice, each in a fresh process (the second loads the reference)."""
import argparse, json, os, resource, subprocess, sys, time
from pathlib import Path
import numpy as np, pandas as pd, scipy.sparse as sp

SIZES = {'reduced': dict(n_perts=20, n_cells=400, n_ctrl=2_000, n_genes=2_000, depth=2_200),
         'full': dict(n_perts=300, n_cells=400, n_ctrl=18_400, n_genes=18_533, depth=20_000)}


def _chunks(n_perts, n_cells, n_ctrl, n_genes, depth, params_seed, sample_seed, with_ctrl=True, chunk=1_000):
    "(obs, csr) chunks of a one-context screen in the 2026 schema: negative-binomial counts, perturbations grouped."
    prng, rng = np.random.default_rng(params_seed), np.random.default_rng(sample_seed)
    genes = np.array([f'GENE{i:05d}' for i in range(n_genes)])
    targets = genes[prng.choice(np.arange(n_genes), n_perts, replace=False)]
    base = prng.normal(0, 1.5, n_genes).astype(np.float32)
    groups = ([('non-targeting', n_ctrl, None)] if with_ctrl else []) + [(t, n_cells, i) for i, t in enumerate(targets)]
    for label, n, i in groups:
        eta = base.copy()
        if i is not None:
            r = np.random.default_rng([params_seed, i]); k = r.choice(n_genes, 100, replace=False)
            eta[k] += r.normal(0, 0.5, 100).astype(np.float32); eta[np.flatnonzero(genes == label)] -= 2.0
        p = np.exp(eta - eta.max()); p /= p.sum()
        for lo in range(0, n, chunk):
            m = min(chunk, n - lo)
            mu = (depth * np.exp(rng.normal(0, 0.25, (m, 1)))).astype(np.float32) * p[None, :]
            X = rng.poisson(rng.gamma(4.0, mu / 4.0)).astype(np.float32)
            yield pd.DataFrame({'target_gene': label, 'context': 'A'}, index=range(m)), sp.csr_matrix(X)
    return genes


def make_data(folder, size):
    "Write the truth (with its controls) and a prediction (perturbed cells only) of one size, once."
    from vcc.data import write_h5ad_chunked
    cfg = SIZES[size]; folder = Path(folder); folder.mkdir(parents=True, exist_ok=True)
    var = pd.DataFrame(index=[f'GENE{i:05d}' for i in range(cfg['n_genes'])])
    real, pred = folder / f'real_{size}.h5ad', folder / f'pred_{size}.h5ad'
    for path, seed, ctrl in ((real, 1, True), (pred, 2, False)):
        if not path.exists():
            t = time.time(); write_h5ad_chunked(path, var, _chunks(**cfg, params_seed=0, sample_seed=seed, with_ctrl=ctrl))
            print(f'wrote {path} in {time.time() - t:.0f} s', flush=True)
    return real, pred


def _peak_gb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def run_vcc_reference(real, cache):
    from vcc import metrics2026 as m26
    t = time.time(); ref = m26.summarise_real_2026(real, cache_dir=cache, progress=True)
    return dict(wall=time.time() - t, b=ref['A'].b, r=ref['A'].r)


def run_vcc_score(real, pred, cache):
    from vcc import metrics2026 as m26
    t0 = time.time(); ref = m26.summarise_real_2026(real, cache_dir=cache); t1 = time.time()
    res = m26.score_2026(pred, real, reference=ref)
    return dict(wall=time.time() - t0, load_reference=t1 - t0, score=res.final,
                u={r.metric: r.u for r in res.per_metric.itertuples()})


def _with_real_controls(pred, real):
    import anndata as ad
    p, r = ad.read_h5ad(pred), ad.read_h5ad(real)
    out = ad.concat([p, r[r.obs.target_gene == 'non-targeting']], join='inner', merge='first'); out.obs_names_make_unique()
    return out, r


def run_cell_eval2(real, pred):
    import logging, warnings; warnings.filterwarnings('ignore'); logging.disable(logging.WARNING)
    from dataclasses import replace
    import cell_eval2 as ce
    cfg = ce.EvalConfig.from_preset('vcc2026')
    cfg = replace(cfg, pert_col='target_gene', device='cpu', de=replace(cfg.de, backend='pdex'))
    t = time.time(); p, r = _with_real_controls(pred, real)
    agg = ce.aggregate_metrics_wide(ce.compute_metrics(p, r, config=cfg)).to_pandas().set_index('statistic').loc['mean']
    return dict(wall=time.time() - t, u={m: float(agg[m]) for m in agg.index if not m.startswith('expr_') or m.endswith('_norm')})


def run_cell_eval2_reference(real):
    import logging, warnings; warnings.filterwarnings('ignore'); logging.disable(logging.WARNING)
    from dataclasses import replace
    import anndata as ad, cell_eval2 as ce
    from cell_eval2.anchor import compute_replicate_anchor
    cfg = ce.EvalConfig.from_preset('vcc2026')
    cfg = replace(cfg, pert_col='target_gene', device='cpu', de=replace(cfg.de, backend='pdex'))
    t = time.time(); r = ad.read_h5ad(real)
    ce.build_generic_baseline(r, config=cfg); compute_replicate_anchor(r, config=cfg)
    return dict(wall=time.time() - t)


def make_bundle(folder):
    "The demo-size simulated bundle and the context-mean baseline's submission (.vcc), once."
    from vcc.contexts import write_context_bundle, BundleFolder
    from vcc.submit2026 import DEMO_2026_SIZE, ContextMeanBaseline, write_submission_2026
    import anndata as ad
    bf = BundleFolder(Path(folder) / 'bundle2026'); sub = Path(folder) / 'bundle2026_submission.vcc'
    if not bf.manifest.exists(): write_context_bundle(bf.root, progress=False, seed=0, **DEMO_2026_SIZE)
    if not sub.exists(): write_submission_2026(ContextMeanBaseline().fit(ad.read_h5ad(bf.screens)), bf.root, sub)
    return bf.root, sub


def run_bundle_score(bundle, sub, cache):
    "One `vcc score --real BUNDLE` as the command does it: the reference (cache 'none': of the concatenated cells, not cached), the .vcc unpacked and scored."
    import tempfile
    from vcc import metrics2026 as m26
    from vcc.vccfile import unpack_vcc
    t0 = time.time()
    ref = m26.summarise_real_2026(m26.bundle_truth_2026(bundle)) if cache == 'none' else m26.summarise_real_2026(bundle, cache_dir=cache)
    t1 = time.time()
    with tempfile.TemporaryDirectory() as d: res = m26.score_2026(unpack_vcc(sub, Path(d) / 'pred.h5ad'), None, reference=ref)
    return dict(wall=time.time() - t0, reference=t1 - t0, score=res.final)


def bundle_main(data):
    bundle, sub = make_bundle(data)
    cache = Path(data) / 'cache_bundle'
    for old in cache.glob('real2026_*.pkl'): old.unlink()   # the first cached score computes
    print(f'bundle {bundle}, submission {sub}; {os.cpu_count()} CPUs', flush=True)
    for label, c in (('no cache (the reference of the concatenated cells, every score)', 'none'), ('cached, first score', cache), ('cached, second score', cache)):
        r = in_subprocess('bundle_score', bundle, sub, c)
        print(f"{label}: {r['wall']:.1f} s (reference {r['reference']:.1f} s), peak RSS {r['peak_rss_gb']:.2f} GB; score {r['score']:.4f}", flush=True)


def in_subprocess(what, *args):
    "Run one measurement in a fresh process; its peak RSS is its own."
    out = subprocess.run([sys.executable, __file__, '--run', what, *map(str, args)], capture_output=True, text=True)
    if out.returncode: print(out.stdout[-2000:], out.stderr[-4000:]); raise SystemExit(f'{what} failed')
    for line in out.stdout.splitlines():
        if line.startswith('{'): return json.loads(line)
    raise SystemExit(f'{what} printed no result')


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--size', choices=list(SIZES), default='reduced')
    ap.add_argument('--data', default='/tmp/vcc_bench2026')
    ap.add_argument('--bundle', action='store_true', help='vcc score --real BUNDLE at the demo size: no cache, then first and second cached score')
    ap.add_argument('--run', nargs='+', help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.run:
        what, *rest = args.run
        fn = {'vcc_reference': run_vcc_reference, 'vcc_score': run_vcc_score, 'cell_eval2': run_cell_eval2,
              'cell_eval2_reference': run_cell_eval2_reference, 'bundle_score': run_bundle_score}[what]
        res = fn(*rest); res['peak_rss_gb'] = _peak_gb()
        print(json.dumps(res)); return
    if args.bundle: return bundle_main(args.data)
    real, pred = make_data(args.data, args.size)
    cache = Path(args.data) / 'cache'
    cfg = SIZES[args.size]
    print(f"{args.size}: {cfg['n_perts']} x {cfg['n_cells']} predicted cells + {cfg['n_ctrl']} controls, {cfg['n_genes']} genes, "
          f"~{cfg['depth']} UMI a cell; {os.cpu_count()} CPUs", flush=True)
    ref = in_subprocess('vcc_reference', real, cache)
    print(f"vcc reference (DE, baseline, 5 replicate splits), once per truth file: {ref['wall']:.1f} s, peak RSS {ref['peak_rss_gb']:.2f} GB", flush=True)
    vcc = in_subprocess('vcc_score', real, pred, cache)
    print(f"vcc score given the cached reference: {vcc['wall']:.1f} s (loading it {vcc['load_reference']:.1f} s), "
          f"peak RSS {vcc['peak_rss_gb']:.2f} GB; score {vcc['score']:.4f}", flush=True)
    if args.size == 'reduced':
        ce = in_subprocess('cell_eval2', real, pred)
        print(f"cell-eval2 compute_metrics (pred + real controls vs real): {ce['wall']:.1f} s, peak RSS {ce['peak_rss_gb']:.2f} GB")
        print(f"ratio cell-eval2 / vcc: {ce['wall'] / vcc['wall']:.1f}x (memory {vcc['peak_rss_gb'] / ce['peak_rss_gb']:.2f} of cell-eval2's)")
        cer = in_subprocess('cell_eval2_reference', real)
        print(f"cell-eval2 baseline + replicate anchor: {cer['wall']:.1f} s (vcc's reference {ref['wall']:.1f} s: {cer['wall'] / ref['wall']:.1f}x)")
        diff = max(abs(vcc['u'][m] - ce['u'][m]) for m in vcc['u'])
        print(f"largest difference of the six aggregates: {diff:.2e}")


if __name__ == '__main__':
    main()
