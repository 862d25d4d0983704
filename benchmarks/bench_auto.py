"""What `auto` (`vcc.auto.AutoModel`: inner 3-fold CV of every candidate, official score, refit) costs, measured at
reduced sizes of the challenge's shape and EXTRAPOLATED to the full 221,273 cells x 18,080 genes on this machine.

Each scale s shrinks the genes and the cells (controls and cells per knockdown) by s and keeps the 150 training
knockdowns (the inner CV's work grows with them, not with s): at s = 1 it is the full-size screen, which held in
memory does not fit a 24 GB machine (use --file). Every scale runs
in its own process (its peak RSS is its own): it simulates the screen in memory (`vcc.data.simulate`, not timed),
then times `AutoModel(cells=screen).fit(train)` and, as the peer, fitting the single model `coexpression_tuned`
(the previous default). Memory is read from the kernel around the fit alone: `auto RSS` is the process's peak resident
memory during `AutoModel.fit` (the screen and its TrainingSet included, which any model holds), `added` is that peak
minus the resident memory just before the fit (what auto itself costs; /proc/self/clear_refs resets the peak). Time
and memory are fitted as power laws of s on the measured scales and extrapolated to s = 1: an extrapolation, not a
measurement; the per-candidate inner-CV seconds say where the time goes.

    flock /tmp/vcc_heavy.lock .venv/bin/python benchmarks/bench_auto.py                      # scales 0.035, 0.07, 0.14 (608 genes at least: 4 per knockdown)
    flock /tmp/vcc_heavy.lock .venv/bin/python benchmarks/bench_auto.py --scales 0.035,0.07 --json /tmp/auto.json
    .venv/bin/python benchmarks/bench_auto.py --from-json /tmp/auto.json                    # the table again, no measuring

The small scales are dominated by fixed costs, so the extrapolation falls short at full size (benchmarks/README.md).
--file FOLDER measures instead what a user runs at full size, no extrapolation: `vcc train --model auto` on a challenge
folder on disk (`benchmarks/bench_data.py` writes the full-size data/bench/full), and as the peer `vcc train --model
linear`, each in its own process (wall time and the process's peak RSS, from the kernel), runs into a temporary folder:

    .venv/bin/python benchmarks/bench_data.py --fresh                                       # writes data/bench/full (about 9 min)
    flock /tmp/vcc_heavy.lock .venv/bin/python benchmarks/bench_auto.py --file data/bench/full --json runs/bench_auto_full.json

Prints a table; asserts nothing.
"""
import argparse, csv, json, os, subprocess, sys, tempfile, time
from pathlib import Path
import numpy as np

FULL = dict(n_genes=18_080, n_train=150, n_control=38_176, n_train_cells=221_273)

def sizes(scale:float) -> dict:
    "make_screen_model sizes of a screen `scale` times the full one in genes and cells, with the full 150 training knockdowns."
    cells_per_pert = (FULL['n_train_cells'] - FULL['n_control']) / FULL['n_train'] * scale
    return dict(n_genes=int(FULL['n_genes'] * scale), n_train=FULL['n_train'], n_val=1, n_test=1,
                n_control=int(FULL['n_control'] * scale), cells_per_pert=max(cells_per_pert, 20.0))

def _status_gb(key:str) -> float:
    "A /proc/self/status memory line (VmRSS: now, VmHWM: peak since the last reset) in GB."
    return next(int(l.split()[1]) for l in open('/proc/self/status') if l.startswith(key + ':')) / 2**20

def one(scale:float, seed:int=0) -> dict:
    "Measure one scale in this process."
    from vcc.data import simulate
    from vcc.models import TrainingSet
    from vcc.auto import AutoModel
    from vcc.train import build_model
    scr = simulate(seed=seed, **sizes(scale))
    adata = scr.training
    train = TrainingSet.from_adata(adata)
    t = time.perf_counter(); build_model('coexpression_tuned', {}).fit(train); peer = time.perf_counter() - t
    before = _status_gb('VmRSS')
    open('/proc/self/clear_refs', 'w').write('5')  # the peak (VmHWM) from here on is the fit's
    t = time.perf_counter(); auto = AutoModel(cells=adata, seed=seed).fit(train); total = time.perf_counter() - t
    peak = _status_gb('VmHWM')
    return dict(scale=scale, genes=adata.n_vars, cells=adata.n_obs, auto_s=round(total, 1), peer_s=round(peer, 2),
                rss_gb=round(peak, 2), added_gb=round(peak - before, 2), choice=auto.choice_,
                inner_s={m: round(float(s), 1) for m, s in zip(auto.leaderboard_.model, auto.leaderboard_.fit_seconds) if not m.startswith('blend(')})

def train_cost(folder:Path, model:str) -> dict:
    "Wall time and peak RSS of `vcc train --model <model> --data <folder>` in its own process (the run goes to a temporary folder)."
    vcc, parent = Path(sys.executable).parent/'vcc', Path(__file__).resolve().parents[1]/'runs'
    parent.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(dir=parent) as runs:
        t = time.perf_counter()
        proc = subprocess.Popen([str(vcc), 'train', '--model', model, '--data', str(folder), '--runs', runs], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        out = proc.stdout.read()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t
        if status: sys.exit(f'vcc train --model {model} failed:\n{out[-3000:]}')
        run = next(Path(runs).iterdir())
        board = list(csv.DictReader((run/'auto_leaderboard.csv').open())) if (run/'auto_leaderboard.csv').exists() else []  # auto's inner leaderboard
        choice = next((r['model'] for r in board if r['chosen'] == 'True'), model)
        inner = {r['model']: round(float(r['fit_seconds']), 1) for r in board if not r['model'].startswith('blend(') and r['fit_seconds']}  # where the time went
    return dict(model=model, wall_s=round(wall, 1), rss_gb=round(usage.ru_maxrss / 2**20, 2), choice=choice, inner_s=inner, log_tail=out[-600:])

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--scales', default='0.035,0.07,0.14', help='comma-separated shares of the full size')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--json', help='also write the rows here')
    p.add_argument('--from-json', help='print the table and extrapolation of rows saved by --json (no measuring)')
    p.add_argument('--file', type=Path, help='a challenge folder on disk: time vcc train --model auto and --model linear on it (no extrapolation)')
    p.add_argument('--one', type=float, help=argparse.SUPPRESS)  # a child process: measure this scale, print JSON
    a = p.parse_args(argv)
    if a.one is not None: print(json.dumps(one(a.one, a.seed))); return
    if a.file:
        rows = []
        for m in ('linear', 'auto'):
            rows.append(train_cost(a.file, m)); print(json.dumps({k: v for k, v in rows[-1].items() if k != 'log_tail'}), flush=True)
        print(rows[-1]['log_tail'])
        print(f"\n{'vcc train --model':>18} {'wall s':>8} {'peak RSS GB':>12}  choice   (data: {a.file})")
        for r in rows: print(f"{r['model']:>18} {r['wall_s']:8.1f} {r['rss_gb']:12.2f}  {r['choice']}")
        print(f"auto / linear: {rows[1]['wall_s'] / rows[0]['wall_s']:.1f}x the time, {rows[1]['rss_gb'] / rows[0]['rss_gb']:.1f}x the memory")
        if rows[1]['inner_s']: print('inner-CV seconds by candidate (fits, predictions, cells and scores): ' + ', '.join(f'{m} {v}' for m, v in rows[1]['inner_s'].items()))
        if a.json: Path(a.json).write_text(json.dumps(rows, indent=1))
        return
    rows = json.loads(open(a.from_json).read()) if a.from_json else []
    for s in ([] if a.from_json else map(float, a.scales.split(','))):
        out = subprocess.run([sys.executable, __file__, '--one', str(s), '--seed', str(a.seed)], capture_output=True, text=True)
        if out.returncode: sys.exit(f'scale {s} failed:\n{out.stderr[-3000:]}')
        rows.append(json.loads(out.stdout.strip().splitlines()[-1])); print(rows[-1], flush=True)
    s = np.array([r['scale'] for r in rows])
    print(f"\n{'scale':>8} {'genes':>6} {'cells':>8} {'auto s':>8} {'coexpression_tuned s':>21} {'ratio':>6} {'auto RSS GB':>12} {'added GB':>9}  choice")
    for r in rows: print(f"{r['scale']:8.4f} {r['genes']:6d} {r['cells']:8d} {r['auto_s']:8.1f} {r['peer_s']:21.2f} {r['auto_s'] / max(r['peer_s'], 1e-9):6.1f} "
                         f"{r['rss_gb']:12.2f} {r.get('added_gb', float('nan')):9.2f}  {r['choice']}")
    if len(rows) >= 2:
        # fixed costs (the torch candidate trains 512 selected genes whatever the scale) flatten the small scales:
        # the fit on the two largest scales is the less optimistic one
        for key, unit in (('auto_s', 's'), ('rss_gb', 'GB'), ('added_gb', 'GB')):
            if not all(key in r for r in rows): continue
            for label, sel in (('all scales', slice(None)), ('the two largest scales', slice(-2, None))):
                k, c = np.polyfit(np.log(s[sel]), np.log([r[key] for r in rows][sel]), 1)
                print(f"EXTRAPOLATED to the full 221,273 x 18,080 (s = 1), power law s^{k:.2f} fitted on {label}: "
                      f"{key} ~ {np.exp(c):,.0f} {unit}" + (f" ({np.exp(c) / 3600:.2f} h)" if unit == 's' else ''))
        per = {m: [r['inner_s'].get(m, np.nan) for r in rows] for m in rows[-1]['inner_s']}
        print('inner-CV seconds (fits and predictions, scoring not included) by candidate at the largest scale: ' + ', '.join(f'{m} {v[-1]}' for m, v in per.items()))
    if a.json and not a.from_json: open(a.json, 'w').write(json.dumps(rows, indent=1))

if __name__ == '__main__': main()
