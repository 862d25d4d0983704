"Integration tests of `vcc.submit`: the real `cell-eval prep`, determinism, and bad input leaving nothing behind."
import errno, json, shutil, subprocess
from pathlib import Path
import numpy as np, pandas as pd, anndata as ad
import pytest
import vcc.submit as submit
from vcc.data import write_screen, ChallengeFolder, CONTROL_LABEL, PERT_COL, CELL_CAPS, read_pert_counts
from vcc.models import TrainingSet, KNNModel, PerturbationMeanModel
from vcc.submit import (SubmissionError, make_submission, plan_cells, check_prediction, run_prep, sha256_file, vcc_h5ad_sha256,
                        write_prediction, BLOCKING_FLAGS)

@pytest.fixture(scope='module')
def challenge(tmp_path_factory):
    d = tmp_path_factory.mktemp('challenge')
    cf = write_screen(d/'c', n_genes=300, n_train=12, n_val=4, n_test=6, n_control=200, cells_per_pert=40, progress=False, seed=1)
    train = TrainingSet.from_adata(cf.training)
    return cf, train, KNNModel().fit(train)

def _unpack(vcc, dest):
    dest.mkdir()
    subprocess.run(['tar', '-xf', str(vcc), '-C', str(dest)], check=True)
    subprocess.run(['zstd', '-dq', str(dest/'pred.h5ad.zst')], check=True)
    return ad.read_h5ad(dest/'pred.h5ad')

def _left(root): return sorted(p.name for p in Path(root).iterdir()) if Path(root).exists() else []

@pytest.mark.parametrize('split', ['validation', 'test'])
def test_real_prep_roundtrip(challenge, tmp_path, split):
    cf, train, model = challenge
    v = make_submission(model, cf.root, 'v1', split=split, root=tmp_path/'subs', seed=3, run={'id': 'knn_test', 'fold': 'all'}, scores={'score': 0.1})
    assert _left(v) == ['h5ad.sha256', 'manifest.json', 'submission.prep.vcc']
    man = json.loads((v/'manifest.json').read_text())
    assert man['run_id'] == 'knn_test' and man['run'] == {'fold': 'all'} and man['split'] == split and man['cell_eval_version']
    assert man['sha256']['vcc'] == sha256_file(v/'submission.prep.vcc') and man['sha256']['vcc_h5ad'] == vcc_h5ad_sha256(v/'submission.prep.vcc')
    assert set(man['data_files']) == {'adata_Training.h5ad', 'gene_names.csv', ChallengeFolder(cf.root).pert_counts(split).name}
    got = _unpack(v/'submission.prep.vcc', tmp_path/'unpacked')
    pc = read_pert_counts(cf.pert_counts(split))
    ref = model.predict_cells(pc, seed=3)
    assert got.var_names.tolist() == ref.var_names.tolist() and got.X.dtype == np.float32
    assert (got.X != ref.X).nnz == 0
    assert got.obs[PERT_COL].astype(str).tolist() == ref.obs[PERT_COL].astype(str).tolist()

def test_same_model_and_seed_same_bytes(challenge, tmp_path):
    cf, train, model = challenge
    a = json.loads((make_submission(model, cf.root, 'a', root=tmp_path, seed=5)/'manifest.json').read_text())['sha256']
    b = json.loads((make_submission(KNNModel().fit(train), cf.root, 'b', root=tmp_path, seed=5)/'manifest.json').read_text())['sha256']
    c = json.loads((make_submission(model, cf.root, 'c', root=tmp_path, seed=6)/'manifest.json').read_text())['sha256']
    assert a['prediction_h5ad'] == b['prediction_h5ad'] and a['vcc_h5ad'] == b['vcc_h5ad']
    assert a['prediction_h5ad'] != c['prediction_h5ad']

def test_existing_version_is_never_overwritten(challenge, tmp_path):
    cf, train, model = challenge
    v = make_submission(model, cf.root, 'v1', root=tmp_path, packer='vcc')
    before = {p.name: sha256_file(p) for p in v.iterdir()}
    with pytest.raises(SubmissionError, match='never overwritten'): make_submission(model, cf.root, 'v1', root=tmp_path)
    assert {p.name: sha256_file(p) for p in v.iterdir()} == before and _left(tmp_path) == ['v1']

@pytest.mark.parametrize('name', ['', '../v1', '.hidden', 'a/b', 'v 1'])
def test_bad_version_name(challenge, tmp_path, name):
    cf, train, model = challenge
    with pytest.raises(SubmissionError, match='version name'): make_submission(model, cf.root, name, root=tmp_path/'subs')
    assert _left(tmp_path/'subs') == []

def test_counts_file_naming_unknown_genes(challenge, tmp_path):
    cf, train, model = challenge
    bad = tmp_path/'bad'; shutil.copytree(cf.root, bad, ignore=shutil.ignore_patterns('*.h5ad'))
    pc = read_pert_counts(cf.pert_counts('validation'))
    pc.assign(target_gene=['NOT_A_GENE'] + pc.target_gene.tolist()[1:]).to_csv(ChallengeFolder(bad).pert_counts('validation'), index=False)
    with pytest.raises(ValueError, match='absent from gene_names.csv'): make_submission(model, bad, 'v1', root=tmp_path/'subs')
    assert _left(tmp_path/'subs') == []

def test_full_disk_while_writing(challenge, tmp_path, monkeypatch):
    cf, train, model = challenge
    orig = submit.write_h5ad_chunked
    def filling(path, var, chunks, **kw):  # the real writer; the disk fills up after the first block
        def blocks():
            it = iter(chunks); yield next(it)
            raise OSError(errno.ENOSPC, 'No space left on device')
        return orig(path, var, blocks(), **kw)
    monkeypatch.setattr(submit, 'write_h5ad_chunked', filling)
    with pytest.raises(SubmissionError, match='disk filled up'): make_submission(model, cf.root, 'v1', root=tmp_path)
    assert _left(tmp_path) == []

def test_not_enough_disk_fails_before_writing(challenge, tmp_path, monkeypatch):
    cf, train, model = challenge
    monkeypatch.setattr(submit.shutil, 'disk_usage', lambda p: shutil._ntuple_diskusage(10**12, 10**12 - 1000, 1000))
    with pytest.raises(SubmissionError, match='of disk needed'): make_submission(model, cf.root, 'v1', root=tmp_path)
    assert _left(tmp_path) == []

def test_prep_failure_leaves_nothing(challenge, tmp_path, monkeypatch):
    cf, train, model = challenge
    def broken(h5ad, genes, out, tmp_dir=None):
        Path(out).write_bytes(b'half a tar'); raise SubmissionError(h5ad, 'cell-eval prep failed (exit 1): boom', 'report it')
    monkeypatch.setattr(submit, 'run_prep', broken)
    with pytest.raises(SubmissionError, match=r'v1/prediction.h5ad: cell-eval prep failed'): make_submission(model, cf.root, 'v1', root=tmp_path)
    assert _left(tmp_path) == []

def test_run_prep_reports_its_failure(challenge, tmp_path):
    cf, train, model = challenge
    with pytest.raises(SubmissionError, match='cell-eval prep failed'): run_prep(tmp_path/'missing.h5ad', cf.gene_names, tmp_path/'x.vcc')
    assert _left(tmp_path) == []

def test_missing_tools(challenge, tmp_path, monkeypatch):
    cf, train, model = challenge
    monkeypatch.setattr(submit.shutil, 'which', lambda t: None if t == 'zstd' else '/usr/bin/' + t)
    with pytest.raises(SubmissionError, match='zstd'): make_submission(model, cf.root, 'v1', root=tmp_path)
    assert _left(tmp_path) == []

class NaNModel(PerturbationMeanModel):
    def predict_deltas(self, genes): d = super().predict_deltas(genes); d[0, 3] = np.nan; return d

class SpikeModel(PerturbationMeanModel):
    "Spikes every other panel target: the PDS exploit."
    def predict_deltas(self, genes):
        d = super().predict_deltas(genes)
        cols = self.train_.var_names.get_indexer(self.train_.perts)
        d[:, cols] += 3.0
        return d

def test_nan_prediction(challenge, tmp_path):
    cf, train, model = challenge
    with pytest.raises(SubmissionError, match='NaN or Inf'): make_submission(NaNModel().fit(train), cf.root, 'v1', root=tmp_path, rule='pseudobulk')
    assert _left(tmp_path) == []

def test_nan_in_written_file_is_caught(challenge, tmp_path):
    cf, train, model = challenge
    plan = plan_cells(read_pert_counts(cf.pert_counts('validation')), train.controls.n_obs, 100_000)
    h5 = write_prediction(model, plan, tmp_path/'p.h5ad', train.var_names.tolist())
    a = ad.read_h5ad(h5); a.X.data[-1] = np.inf; a.write_h5ad(tmp_path/'inf.h5ad')
    with pytest.raises(SubmissionError, match=r"NaN or Inf.*target_gene 'non-targeting'"):
        check_prediction(tmp_path/'inf.h5ad', train.var_names.tolist(), read_pert_counts(cf.pert_counts('validation')), 100_000)

def test_blocking_exploit_flag(challenge, tmp_path):
    cf, train, model = challenge
    spiky = SpikeModel().fit(train)
    with pytest.raises(SubmissionError, match='spiked_targets'): make_submission(spiky, cf.root, 'v1', root=tmp_path, rule='shift')
    assert _left(tmp_path) == []
    v = make_submission(spiky, cf.root, 'v1', root=tmp_path, rule='shift', allow_flags=('spiked_targets',), packer='vcc')
    assert 'spiked_targets' in [f['flag'] for f in json.loads((v/'manifest.json').read_text())['flags']]
    assert 'spiked_targets' in BLOCKING_FLAGS

@pytest.mark.parametrize('seed', range(20))
def test_downsampling_rule(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 120))
    pc = pd.DataFrame({PERT_COL: [f'G{i}' for i in range(n)], 'n_cells': rng.integers(1, 5_000, n)})
    n_ctl, cap = int(rng.integers(1, 40_000)), int(rng.choice([1_000, 100_000, 200_000]))
    plan = plan_cells(pc, n_ctl, cap)
    asked = plan.n_asked.to_numpy()
    assert plan[PERT_COL].tolist() == pc[PERT_COL].tolist() + [CONTROL_LABEL]
    assert plan.n_cells.sum() <= cap and (plan.n_cells >= 1).all() and (plan.n_cells <= asked).all()
    if asked.sum() <= cap: assert (plan.n_cells == asked).all()
    else:  # every group scaled by the same factor, to within a cell
        f = cap / asked.sum()
        assert (np.abs(plan.n_cells - asked * f) <= 1 + (asked * f < 1)).all()

def test_cap_in_a_real_submission(challenge, tmp_path):
    cf, train, model = challenge
    big = tmp_path/'big'; shutil.copytree(cf.root, big, ignore=shutil.ignore_patterns('*.h5ad'))
    pc = read_pert_counts(cf.pert_counts('validation'))
    pc.assign(n_cells=[60_000, 30_000, 6_000, 4_000]).to_csv(ChallengeFolder(big).pert_counts('validation'), index=False)
    v = make_submission(PerturbationMeanModel().fit(train), big, 'v1', root=tmp_path/'subs', rule='pseudobulk', keep_h5ad=True)
    got = ad.read_h5ad(v/'prediction.h5ad', backed='r')
    counts = got.obs[PERT_COL].astype(str).value_counts()
    assert got.n_obs <= CELL_CAPS['validation'] and set(counts.index) == set(pc.target_gene) | {CONTROL_LABEL}
    assert counts[pc.target_gene[0]] == 60_000 * 100_000 // 100_200 and counts[CONTROL_LABEL] == 200 * 100_000 // 100_200
