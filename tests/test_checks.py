"""Semantic checks through the command line, on real files: `vcc doctor` streams the whole training file and
catches labels, counts files and gene lists a tired eye misses; `vcc submit` follows gene_names.csv's order
without a false flag; `vcc score` calls an all-zero prediction what it is."""
import json, shutil, subprocess, sys
from pathlib import Path
import numpy as np, pandas as pd, scipy.sparse as sp, anndata as ad, pytest
from vcc.data import write_screen, ChallengeFolder, CONTROL_LABEL, PERT_COL

VCC = str(Path(sys.executable).with_name('vcc'))

def vcc(*args, cwd=None):
    "Run the `vcc` command; whatever it does, no traceback reaches the user."
    r = subprocess.run([VCC, *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=300)
    assert 'Traceback' not in r.stdout + r.stderr, r.stdout + r.stderr
    return r

@pytest.fixture(scope='module')
def challenge(tmp_path_factory):
    return write_screen(tmp_path_factory.mktemp('checks')/'c', n_genes=200, n_train=6, n_val=3, n_test=3, n_control=150, cells_per_pert=30, progress=False, seed=4)

def _copy(cf, d) -> ChallengeFolder:
    shutil.copytree(cf.root, d, ignore=shutil.ignore_patterns('*truth*', 'true_*', 'summary.png'))
    return ChallengeFolder(d)

def _training(cf, change):
    a = ad.read_h5ad(cf.training); a = change(a) or a; cf.training.unlink(); a.write_h5ad(cf.training)

def _counts(cf, **cols):
    pc = pd.read_csv(cf.pert_counts('validation'))
    pc.assign(**cols).to_csv(cf.pert_counts('validation'), index=False)

def _last_fraction(a):
    X = sp.csr_matrix(a.X, copy=True); X.data[-1] += 0.25; a.X = X   # one value in the very last cell

def _relabel(old, new):
    def f(a): a.obs[PERT_COL] = a.obs[PERT_COL].astype(str).replace(old, new)
    return f

def _nan_labels(a):
    lab = a.obs[PERT_COL].astype(object); lab.iloc[3] = np.nan; a.obs[PERT_COL] = lab

def _header(cf): cf.gene_names.write_text('gene_name\n' + cf.gene_names.read_text())

# name -> (how to break a copy of the folder, words the failing row holds, the file it blames)
BROKEN = {
    'fractional value in the last cell': (lambda cf: _training(cf, _last_fraction), 'non-integer values', 'adata_Training.h5ad'),
    "control label 'Non-Targeting'": (lambda cf: _training(cf, _relabel(CONTROL_LABEL, 'Non-Targeting')), "did you mean 'non-targeting'?", 'adata_Training.h5ad'),
    "control label 'non_targeting'": (lambda cf: _training(cf, _relabel(CONTROL_LABEL, 'non_targeting')), "did you mean 'non-targeting'?", 'adata_Training.h5ad'),
    "control label 'NTC'": (lambda cf: _training(cf, _relabel(CONTROL_LABEL, 'NTC')), "did you mean 'non-targeting'?", 'adata_Training.h5ad'),
    "control label 'control'": (lambda cf: _training(cf, _relabel(CONTROL_LABEL, 'control')), "did you mean 'non-targeting'?", 'adata_Training.h5ad'),
    'NaN target_gene': (lambda cf: _training(cf, _nan_labels), '1 cells have no target_gene', 'adata_Training.h5ad'),
    'only controls': (lambda cf: _training(cf, lambda a: a[a.obs[PERT_COL] == CONTROL_LABEL].copy()), 'only control cells', 'adata_Training.h5ad'),
    'n_cells of 10^12': (lambda cf: _counts(cf, n_cells=10**12), 'more than a whole submission may hold', 'pert_counts_Validation.csv'),
    'negative n_cells': (lambda cf: _counts(cf, n_cells=-5), 'n_cells must be positive integers', 'pert_counts_Validation.csv'),
    'fractional n_cells': (lambda cf: _counts(cf, n_cells=12.5), 'n_cells must be positive integers', 'pert_counts_Validation.csv'),
    'header row in gene_names.csv': (_header, "line 1 is a header row ('gene_name')", 'gene_names.csv'),
}

@pytest.mark.parametrize('name', list(BROKEN))
def test_doctor_finds_the_problem(challenge, tmp_path, name):
    breaks, words, blamed = BROKEN[name]
    cf = _copy(challenge, tmp_path/'c'); breaks(cf)
    r = vcc('doctor', '--data', cf.root)
    fail = [l for l in r.stdout.splitlines() if l.startswith('FAIL')]
    assert r.returncode == 1 and len(fail) == 1 and words in fail[0] and str(cf.root/blamed) in fail[0], (r.returncode, r.stdout)

def test_doctor_warns_over_the_cap_and_accepts_another_gene_order(challenge, tmp_path):
    cf = _copy(challenge, tmp_path/'c')
    _counts(cf, n_cells=40_000)                                            # 120,000 cells asked: over the validation cap
    genes = cf.gene_names.read_text().split(); cf.gene_names.write_text('\n'.join(genes[::-1]) + '\n')
    r = vcc('doctor', '--data', cf.root)
    assert r.returncode == 0 and not [l for l in r.stdout.splitlines() if l.startswith('FAIL')], r.stdout
    warn = [l for l in r.stdout.splitlines() if l.startswith('WARN') and 'cells validation' in l]
    assert len(warn) == 1 and 'over the cap of 100,000' in warn[0], r.stdout
    assert 'in another order than gene_names.csv' in r.stdout

def test_submit_follows_gene_names_order(challenge, tmp_path):
    cf = _copy(challenge, tmp_path/'c')
    assert vcc('train', '--model', 'pert_mean', '--data', cf.root, '--runs', tmp_path/'runs').returncode == 0
    run = next((tmp_path/'runs').iterdir())
    genes = cf.gene_names.read_text().split(); cf.gene_names.write_text('\n'.join(genes[::-1]) + '\n')   # after training: another order
    r = vcc('submit', '--run', run, '--version', 'v1', '--root', tmp_path/'subs', '--packer', 'vcc')
    assert r.returncode == 0, r.stderr
    man = json.loads((tmp_path/'subs'/'v1'/'manifest.json').read_text())
    assert 'controls_differ' not in [f['flag'] for f in man['flags']]      # never a false flag
    assert man['checks']['n_genes'] == len(genes)

def test_score_says_all_zeros(challenge, tmp_path):
    t = ad.read_h5ad(challenge.truth('validation'))
    ad.AnnData(sp.csr_matrix(t.shape, dtype=np.float32), obs=t.obs[[PERT_COL]].copy(), var=t.var.copy()).write_h5ad(tmp_path/'zeros.h5ad')
    r = vcc('score', tmp_path/'zeros.h5ad', '--real', challenge.truth('validation'))
    assert r.returncode == 1 and f"{tmp_path/'zeros.h5ad'}: the prediction is all zeros" in r.stderr and 'empty' not in r.stderr, r.stderr
