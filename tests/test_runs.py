"""Training runs through the command line, on real files: every check before a run folder is made; Ctrl-C and
kill -9 mid-train, then `vcc train --resume`, to the same bits as an uninterrupted run; a disk that fills up
mid-train (a real tmpfs where the machine lets us mount one); corrupt run files; runs used from another folder."""
import json, os, signal, shutil, subprocess, sys, time
from pathlib import Path
import numpy as np, pandas as pd, scipy.sparse as sp, anndata as ad, pytest
from vcc.data import write_screen, CONTROL_LABEL, PERT_COL

VCC = str(Path(sys.executable).with_name('vcc'))
# a torch model with enough epochs (about 10 s) to be stopped in the middle
TORCH = ['--model', 'cell_transition', '--params', json.dumps({'epochs': 150, 'n_genes': 50, 'hidden': 16, 'set_size': 16})]

def vcc(*args, cwd=None, timeout=180):
    "Run the `vcc` command; whatever it does, no traceback reaches the user."
    r = subprocess.run([VCC, *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=timeout)
    assert 'Traceback' not in r.stderr + r.stdout, r.stderr
    return r

def runs_in(folder): return sorted(p for p in Path(folder).iterdir() if p.is_dir()) if Path(folder).exists() else []

def state(run): return json.loads((run/'state.json').read_text()) if (run/'state.json').exists() else {}

@pytest.fixture(scope='module')
def challenge(tmp_path_factory):
    return write_screen(tmp_path_factory.mktemp('runs')/'c', n_genes=200, n_train=6, n_val=3, n_test=3, n_control=150, cells_per_pert=30, progress=False, seed=3)

@pytest.fixture(scope='module')
def straight(challenge, tmp_path_factory):
    "The uninterrupted torch run every interrupted one must match."
    runs = tmp_path_factory.mktemp('straight')
    r = vcc('train', *TORCH, '--data', challenge.root, '--runs', runs)
    assert r.returncode == 0, r.stderr
    return runs_in(runs)[0]

def predictions(run):
    from vcc.train import load_run
    m = load_run(run)
    return m.predict_pseudobulk(['G_UNSEEN'] + m.train_.perts[:3])

def _broken_files(cf, d):
    "One broken copy of the training file per kind of problem: name -> (path, words of the message)."
    a = ad.read_h5ad(cf.training)
    def write(name, b):
        p = d/f'{name}.h5ad'; b.write_h5ad(p); return p
    out = {}
    (d/'empty.h5ad').write_bytes(b''); out['zero-byte file'] = (d/'empty.h5ad', 'empty (0 bytes)')
    (d/'text.h5ad').write_text('target_gene,n_cells\n'); out['not HDF5'] = (d/'text.h5ad', 'not a readable HDF5 file')
    b = a.copy(); lab = b.obs[PERT_COL].astype(object); lab.iloc[-5:] = np.nan; b.obs[PERT_COL] = lab
    out['NaN target_gene'] = (write('nan_labels', b), 'cells have no target_gene')
    out['only controls'] = (write('only_controls', a[a.obs[PERT_COL] == CONTROL_LABEL].copy()), 'only control cells')
    b = a.copy(); b.obs[PERT_COL] = b.obs[PERT_COL].astype(str).replace(CONTROL_LABEL, 'Non-Targeting')
    out['near-miss control label'] = (write('near_miss', b), "did you mean 'non-targeting'?")
    b = a.copy(); b.var_names = [a.var_names[1]] + list(a.var_names[1:])
    out['duplicated gene'] = (write('dup_gene', b), 'duplicated gene names')
    b = a.copy(); X = sp.csr_matrix(b.X, copy=True); X.data[-1] += 0.5; b.X = X
    out['fractional value in the last cell'] = (write('fraction', b), 'non-integer values')
    return out

def test_bad_input_makes_no_run(challenge, tmp_path):
    runs = tmp_path/'runs'
    cases = {name: (['--data', p], words, {1}) for name, (p, words) in _broken_files(challenge, tmp_path).items()}
    usage = {1, 2}  # a parameter the model does not take: the library's check (1) or the command line's (2, a usage error)
    cases |= {'misspelt --params key': (['--data', challenge.root, '--model', 'linear', '--params', '{"rige": 1}'], "unknown parameter 'rige' for model 'linear' (did you mean 'ridge'?)", usage),
              'misspelt preset parameter': (['--data', challenge.root, '--model', 'cell_transition_l1', '--params', '{"epoch": 3}'], "unknown parameter 'epoch'", usage),
              'unknown model': (['--data', challenge.root, '--model', 'lineer'], "'lineer'", usage),
              'data folder without the training file': (['--data', tmp_path], 'adata_Training.h5ad', {1})}
    for name, (args, words, codes) in cases.items():
        r = vcc('train', '--runs', runs, *args)
        assert r.returncode in codes and words in r.stderr, (name, r.returncode, r.stderr)
        assert runs_in(runs) == [], (name, runs_in(runs))   # nothing was made

def _as_from_a_terminal():
    "Ctrl-C's default action, as a command started from a terminal has it: a suite started in the background (`./run test &`) has SIGINT ignored, and children inherit that."
    signal.signal(signal.SIGINT, signal.SIG_DFL)

def _train_until(args, run_parent, epoch, sig):
    "Start `vcc train`, send `sig` once its checkpoint of `epoch` is on disk; (return code, stderr, the run folder)."
    p = subprocess.Popen([VCC, 'train', *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=_as_from_a_terminal)
    t0 = time.time()
    while time.time() - t0 < 120:
        runs = runs_in(run_parent)
        if runs and (state(runs[0]).get('epochs_done') or 0) >= epoch: break
        if p.poll() is not None: break
        time.sleep(0.02)
    p.send_signal(sig)
    out, err = p.communicate(timeout=60)
    return p.returncode, err, runs_in(run_parent)[0]

@pytest.mark.parametrize('sig', [signal.SIGINT, signal.SIGKILL], ids=['ctrl-c', 'kill-9'])
def test_interrupted_run_resumes_to_the_same_bits(challenge, straight, tmp_path, sig):
    rc, err, run = _train_until([*TORCH, '--data', challenge.root, '--runs', tmp_path/'runs'], tmp_path/'runs', 3, sig)
    assert rc == (130 if sig == signal.SIGINT else -signal.SIGKILL), (rc, err)
    assert 'Traceback' not in err
    st = state(run)
    assert 3 <= st['epochs_done'] < 150 and st['status'] == ('interrupted' if sig == signal.SIGINT else 'running')
    assert not list(run.glob('.*tmp*')) and not list(run.glob('*.tmp'))            # no half-written file
    r = vcc('submit', '--run', run, '--version', 'v1', '--root', tmp_path/'subs', '--packer', 'vcc')
    assert r.returncode == 1 and 'the run is unfinished: it stopped at epoch' in r.stderr and '--resume' in r.stderr, r.stderr
    assert not (tmp_path/'subs'/'v1').exists()
    r = vcc('train', '--resume', run)
    assert r.returncode == 0, r.stderr
    assert state(run)['status'] == 'done' and (run/'report.md').exists()
    np.testing.assert_array_equal(predictions(run), predictions(straight))       # bit for bit
    assert json.loads((run/'history.json').read_text()) == json.loads((straight/'history.json').read_text())

@pytest.fixture
def small_disk(tmp_path):
    "A real 64 MB filesystem (tmpfs), where this machine lets us mount one."
    d = tmp_path/'disk'; d.mkdir()
    r = subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=64m', 'tmpfs', str(d)], capture_output=True, text=True)
    if r.returncode: pytest.skip(f'cannot mount a tmpfs here ({r.stderr.strip()}); the full-disk path is tested in-process in nbs/05_train.ipynb')
    yield d
    subprocess.run(['umount', '-l', str(d)], capture_output=True)

def _fill(disk) -> Path:
    "Fill the disk to the last byte (unbuffered writes, so the error comes here and nothing is pending)."
    filler = disk/'filler'
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:
        for size in (2**20, 4096, 1):
            try:
                while True: os.write(fd, b'\0' * size)
            except OSError: pass
    finally: os.close(fd)
    return filler

def test_disk_fills_up_mid_train(challenge, straight, small_disk):
    runs = small_disk/'runs'
    p = subprocess.Popen([VCC, 'train', *TORCH, '--data', str(challenge.root), '--runs', str(runs)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    t0 = time.time()
    while time.time() - t0 < 120 and p.poll() is None and not (runs_in(runs) and (state(runs_in(runs)[0]).get('epochs_done') or 0) >= 2): time.sleep(0.02)
    filler = _fill(small_disk)
    out, err = p.communicate(timeout=120)
    run = runs_in(runs)[0]
    assert p.returncode == 1 and 'the disk is full' in err and 'Traceback' not in err, err
    assert not [f.name for f in run.iterdir() if 'tmp' in f.name]       # no checkpoint.pt.tmp or other temporary left
    filler.unlink()
    r = vcc('train', '--resume', run)
    assert r.returncode == 0, r.stderr
    np.testing.assert_array_equal(predictions(run), predictions(straight))

def test_read_only_runs_folder(challenge, small_disk):
    subprocess.run(['mount', '-o', 'remount,ro', str(small_disk)], check=True)
    r = vcc('train', '--data', challenge.root, '--runs', small_disk/'runs')
    assert r.returncode == 1 and str(small_disk) in r.stderr and 'fix:' in r.stderr, r.stderr

def test_corrupt_run_files(challenge, tmp_path):
    r = vcc('train', '--model', 'pert_mean', '--data', challenge.root, '--runs', tmp_path/'runs')
    assert r.returncode == 0, r.stderr
    good = runs_in(tmp_path/'runs')[0]
    bad = tmp_path/'bad'; shutil.copytree(good, bad)
    (bad/'checkpoint.pt').write_bytes((good/'checkpoint.pt').read_bytes()[:300])          # truncated
    r = vcc('submit', '--run', bad, '--version', 'v1', '--root', tmp_path/'subs', '--packer', 'vcc')
    assert r.returncode == 1 and f"{bad/'checkpoint.pt'}: cannot be read" in r.stderr and 'truncated or corrupt' in r.stderr, r.stderr
    (bad/'config.json').write_text((good/'config.json').read_text()[:40])                   # cut mid-way
    for args in (['submit', '--run', bad, '--version', 'v1', '--root', tmp_path/'subs', '--packer', 'vcc'], ['train', '--resume', bad]):
        r = vcc(*args)
        assert r.returncode == 1 and f"{bad/'config.json'}: is not valid JSON" in r.stderr, r.stderr
    assert not (tmp_path/'subs'/'v1').exists()

def test_run_moves_with_its_data(challenge, tmp_path):
    "A run trained with a relative --data is evaluated and submitted from another folder, after the project moved."
    here = tmp_path/'project'; here.mkdir(); shutil.copytree(challenge.root, here/'data')
    assert vcc('train', '--model', 'linear', '--data', 'data', '--runs', 'runs', cwd=here).returncode == 0
    moved = tmp_path/'elsewhere'; here.rename(moved)                                          # another machine, another path
    run = runs_in(moved/'runs')[0]
    subs = moved/'subs'; subs.mkdir()
    dead = subprocess.Popen([sys.executable, '-c', 'pass']); dead.wait()
    (subs/'.v0.killed.tmp').mkdir(); (subs/'.v0.killed.tmp'/'.owner.json').write_text(json.dumps({'pid': dead.pid, 'host': os.uname().nodename}))
    r = vcc('submit', '--run', run, '--version', 'v1', '--root', subs, '--packer', 'vcc', cwd='/')   # no --data: the run's own
    assert r.returncode == 0, r.stderr
    assert not (subs/'.v0.killed.tmp').exists() and 'killed' in r.stderr                       # a killed submit's leftovers: removed, and said
    text = (subs/'v1'/'manifest.json').read_text()
    man = json.loads(text)
    assert man['data_folder'] == '../../data' and str(tmp_path) not in text and 'NaN' not in text
    assert man['training'] == {'status': 'done', 'epochs_done': None, 'epochs_planned': None}
    r = vcc('evaluate', '--run', run, '--models', 'pert_mean', '--folds', '2', cwd='/')
    assert r.returncode == 0, r.stderr

def test_closed_form_run_needs_no_torch(challenge, tmp_path):
    "A closed-form run's checkpoint is a plain pickle: training, loading and submitting one import no torch (an optional extra, seconds to import)."
    r = vcc('train', '--model', 'linear', '--data', challenge.root, '--runs', tmp_path/'runs')
    assert r.returncode == 0, r.stderr
    run = runs_in(tmp_path/'runs')[0]
    assert (run/'checkpoint.pt').read_bytes()[:4] != b'PK\x03\x04'        # not a torch (zip) file
    code = ('import sys\nfrom vcc.train import load_run, train_run\nfrom vcc.submit import submit_run\n'
            f'train_run("linear", {{}}, {str(challenge.root)!r}, runs_dir={str(tmp_path/"runs2")!r})\n'   # training one imports none either
            f'load_run({str(run)!r}); submit_run({str(run)!r}, version="v1", root={str(tmp_path/"subs")!r}, packer="vcc")\n'
            "print('torch' in sys.modules)")
    p = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=180)
    assert p.returncode == 0 and p.stdout.strip() == 'False', p.stdout + p.stderr
    assert (tmp_path/'subs'/'v1'/'submission.prep.vcc').exists()
