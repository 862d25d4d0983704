"""Measure a test-shaped submission: 200,000 cells x 18,080 genes (100 perturbations + the controls), written from a
model fit on a simulated 18,080-gene screen with 3,000 control cells (~7.5k detected genes per cell, like the
challenge's ~50k-UMI cells). Each step runs in its own process so its peak RSS is its own; prep's is its subprocess's.
Prints wall time and peak RSS; asserts nothing.

The default model is `ControlModel` with the `scale` rule: cells as sparse as real ones, and a file the checks pass.
kNN, linear and perturbation-mean models with the `scale` rule fail `check_prediction` at this size (log1p values
>= 15 on genes detected in few controls), which is what the checks are for; `--model knn --rule shift` writes a
dense file (3.6e9 values, ~29 GB) instead.

    .venv/bin/python benchmarks/bench_submit.py                  # build+validate, stream pack; real prep if it fits in RAM
    .venv/bin/python benchmarks/bench_submit.py --prep always    # run the real cell-eval prep whatever its memory estimate
    .venv/bin/python benchmarks/bench_submit.py --cells 50000    # a smaller file (e.g. to measure prep where 200k does not fit)
    .venv/bin/python benchmarks/bench_submit.py --model knn      # see above
"""
import argparse, json, os, resource, subprocess, sys, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FOLDER = ROOT/'data'/'bench'/'submit'
SCREEN = dict(n_genes=18_080, n_train=30, n_val=2, n_test=100, n_control=3_000, cells_per_pert=50)

def _rss_gb(who=resource.RUSAGE_SELF): return round(resource.getrusage(who).ru_maxrss / 2**20, 2)

def step_inputs(folder, cells, model, rule):
    "The simulated challenge folder, and a test counts file asking for `cells` cells with the controls."
    import numpy as np
    from vcc.data import write_screen, ChallengeFolder, read_pert_counts
    cf = ChallengeFolder(folder) if (folder/'adata_Training.h5ad').exists() else write_screen(folder, truth=False, overwrite=True, **SCREEN)
    pc = read_pert_counts(cf.pert_counts('test'))
    n = np.floor(pc.n_cells / pc.n_cells.sum() * (cells - SCREEN['n_control'])).astype(int)
    n.iloc[0] += cells - SCREEN['n_control'] - n.sum()
    pc.assign(n_cells=n).to_csv(cf.pert_counts('test'), index=False)
    return {}

def step_build(folder, cells, model_name, rule):
    "Fit, plan, write (blocks), check (streamed), flag: the build+validate of `make_submission`."
    from vcc.data import ChallengeFolder, read_gene_names, read_pert_counts, CELL_CAPS
    from vcc.models import TrainingSet, KNNModel, ControlModel, LinearModel, PerturbationMeanModel
    from vcc.submit import plan_cells, write_prediction, check_prediction, prediction_flags, control_rows
    cf, t, out = ChallengeFolder(folder), {}, {}
    h5 = folder/'prediction.h5ad'; h5.unlink(missing_ok=True)
    t0 = time.perf_counter()
    train = TrainingSet.from_adata(cf.training)
    model = dict(control=ControlModel, knn=KNNModel, linear=LinearModel, perturbation_mean=PerturbationMeanModel)[model_name]().fit(train)
    t['fit_s'] = time.perf_counter() - t0; out['rss_after_fit_gb'] = _rss_gb()
    genes = read_gene_names(cf.gene_names); pc = read_pert_counts(cf.pert_counts('test'), genes)
    plan = plan_cells(pc, train.controls.n_obs, CELL_CAPS['test'])
    t0 = time.perf_counter(); write_prediction(model, plan, h5, genes, rule=rule or None); t['write_s'] = time.perf_counter() - t0
    out['rss_after_write_gb'] = _rss_gb()
    t0 = time.perf_counter(); summary = check_prediction(h5, genes, pc, CELL_CAPS['test'], plan); t['check_s'] = time.perf_counter() - t0
    t0 = time.perf_counter()
    flags = prediction_flags(h5, train.controls[control_rows(train.controls.n_obs, int(plan.n_cells.iloc[-1]))], train.perts + pc.target_gene.tolist())
    t['flags_s'] = time.perf_counter() - t0
    return dict(model=repr(model), rule=rule or model.cell_rule, **{k: round(v, 1) for k, v in t.items()}, **out, n_cells=summary['n_cells'], n_genes=summary['n_genes'],
                stored_values=summary['stored_values'], max=round(summary['max'], 2), flags=flags.flag.tolist(),
                h5ad_gb=round(h5.stat().st_size / 2**30, 2))

def step_prep(folder, cells, model, rule):
    "The real `cell-eval prep` in a subprocess (its peak RSS is the child's)."
    from vcc.submit import run_prep
    out = folder/'prediction.prep.vcc'; out.unlink(missing_ok=True)
    run_prep(folder/'prediction.h5ad', folder/'gene_names.csv', out)
    return dict(prep_child_rss_gb=_rss_gb(resource.RUSAGE_CHILDREN), vcc_gb=round(out.stat().st_size / 2**30, 2))

def step_pack(folder, cells, model, rule):
    "The streaming packer and the sha256 of the h5ad inside the `.vcc`."
    from vcc.submit import pack_vcc, vcc_h5ad_sha256, sha256_file
    out = folder/'prediction.stream.vcc'; out.unlink(missing_ok=True)
    t0 = time.perf_counter(); pack_vcc(folder/'prediction.h5ad', out); pack_s = time.perf_counter() - t0
    same = vcc_h5ad_sha256(out) == sha256_file(folder/'prediction.h5ad')
    return dict(pack_s=round(pack_s, 1), vcc_gb=round(out.stat().st_size / 2**30, 2), sha_roundtrip=same, children_rss_gb=_rss_gb(resource.RUSAGE_CHILDREN))

STEPS = {'inputs': step_inputs, 'build': step_build, 'prep': step_prep, 'pack': step_pack}

def run_step(name, folder, cells, model, rule):
    "Run one step in a fresh process; its wall time, peak RSS and figures."
    t = time.perf_counter()
    out = subprocess.run([sys.executable, __file__, '--step', name, '--folder', str(folder), '--cells', str(cells), '--model', model, '--rule', rule], check=True, stdout=subprocess.PIPE, text=True).stdout
    return dict(step=name, wall_s=round(time.perf_counter() - t, 1), **json.loads(out.strip().splitlines()[-1]))

if __name__ == '__main__':
    p = argparse.ArgumentParser()
    p.add_argument('--step', choices=list(STEPS)); p.add_argument('--folder', type=Path, default=FOLDER)
    p.add_argument('--cells', type=int, default=200_000); p.add_argument('--model', default='control', choices=['control', 'knn', 'linear', 'perturbation_mean'])
    p.add_argument('--rule', default='', choices=['', 'scale', 'shift', 'pseudobulk']); p.add_argument('--prep', choices=['auto', 'always', 'never'], default='auto')
    a = p.parse_args()
    if a.step:
        res = STEPS[a.step](a.folder, a.cells, a.model, a.rule)
        print(json.dumps(dict(peak_rss_gb=_rss_gb(), **res)))
        sys.exit(0)
    rows = [run_step(s, a.folder, a.cells, a.model, a.rule) for s in ('inputs', 'build', 'pack')]
    from vcc.submit import choose_packer
    size = (a.folder/'prediction.h5ad').stat().st_size
    packer, why = choose_packer(a.folder/'prediction.h5ad')   # what make_submission's packer='auto' would do here
    if a.prep == 'always' or (a.prep == 'auto' and packer == 'cell-eval'): rows.append(run_step('prep', a.folder, a.cells, a.model, a.rule))
    else: print(f'cell-eval prep skipped: {why} (--prep always to force)')
    print(f'\n{a.cells:,}-cell test-shaped submission in {a.folder} ({size / 2**30:.1f} GB h5ad)')
    for r in rows:
        extra = {k: v for k, v in r.items() if k not in ('step', 'wall_s', 'peak_rss_gb')}
        print(f"{r['step']:>7}: wall {r['wall_s']:7.1f} s   peak RSS {r['peak_rss_gb']:5.2f} GB   {extra}")
