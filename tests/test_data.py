"Bad input, end to end through files: each gives one `DataError` naming the file, the problem and the fix."
import shutil
import numpy as np, pandas as pd, scipy.sparse as sp, anndata as ad, pytest
from vcc.data import (DataError, ChallengeFolder, write_screen, validate_challenge_folder, perturbation_stats,
                      read_perturb_seq, read_papalexi, read_obs_var, CONTROL_LABEL)

SMALL = dict(n_genes=300, n_train=12, n_val=4, n_test=6, n_control=200, cells_per_pert=40, seed=5)

@pytest.fixture(scope='module')
def good(tmp_path_factory):
    return write_screen(tmp_path_factory.mktemp('screens')/'good', progress=False, **SMALL)

@pytest.fixture
def folder(good, tmp_path):
    "A fresh copy of a valid challenge folder for a test to break."
    shutil.copytree(good.root, tmp_path/'c')
    return ChallengeFolder(tmp_path/'c')

def _rewrite(cf, fn):
    a = ad.read_h5ad(cf.training); fn(a); cf.training.unlink(); a.write_h5ad(cf.training)

def _fails(cf, *words, path=None):
    with pytest.raises(DataError) as e: validate_challenge_folder(cf.root)
    msg = str(e.value)
    assert str(path or cf.training) in msg and 'Fix:' in msg, msg
    for w in words: assert w in msg, msg
    return msg

def test_valid_folder_passes(folder):
    tab = validate_challenge_folder(folder.root)
    assert tab.file.tolist() == ['gene_names.csv', 'adata_Training.h5ad', 'pert_counts_Validation.csv', 'pert_counts_Test.csv']

def test_misnamed_column(folder):
    _rewrite(folder, lambda a: a.obs.rename(columns={'target_gene': 'gene'}, inplace=True))
    _fails(folder, "lacks column(s) ['target_gene']", 'read_perturb_seq')

def test_no_controls(folder):
    def relabel(a): a.obs['target_gene'] = a.obs.target_gene.astype(str).replace(CONTROL_LABEL, 'NTC')
    _rewrite(folder, relabel)
    _fails(folder, "labelled ['NTC']: did you mean 'non-targeting'?")
    def relabel(a): a.obs['target_gene'] = a.obs.target_gene.astype(str).replace('NTC', 'TP53')
    _rewrite(folder, relabel)
    _fails(folder, 'no control cells')

def test_log_normalised_values(folder):
    def lognorm(a): a.X = sp.csr_matrix(np.log1p(a.X.toarray() / 3.0))
    _rewrite(folder, lognorm)
    _fails(folder, 'looks log-normalised', 'raw UMI count matrix')

@pytest.mark.parametrize('bad, word', [(-1.0, 'negative'), (np.nan, 'NaN')])
def test_negative_or_nan(folder, bad, word):
    def spoil(a): a.X = a.X.tocsr(); a.X.data[7] = bad
    _rewrite(folder, spoil)
    _fails(folder, word)

def test_duplicated_genes(folder):
    def dup(a): a.var_names = [a.var_names[0]] + list(a.var_names[1:-1]) + [a.var_names[0]]
    _rewrite(folder, dup)
    _fails(folder, 'duplicated gene names')

def test_gene_missing_from_gene_names(folder):
    names = pd.read_csv(folder.gene_names, header=None)[0]
    names.iloc[1:].to_csv(folder.gene_names, header=False, index=False)
    _fails(folder, 'missing from gene_names.csv')

def test_counts_file_names_absent_gene(folder):
    pc = pd.read_csv(folder.pert_counts('test')); pc.loc[0, 'target_gene'] = 'NOTAGENE'; pc.to_csv(folder.pert_counts('test'), index=False)
    _fails(folder, 'absent from gene_names.csv', "NOTAGENE", path=folder.pert_counts('test'))

def test_truncated_h5ad(folder):
    data = folder.training.read_bytes()
    folder.training.write_bytes(data[:len(data) // 2])
    _fails(folder, 'truncated')

def test_truncated_h5ad_while_streaming(folder):
    # a file cut inside X's data: obs/var still read, the chunk read fails with the same clear error
    import h5py
    with h5py.File(folder.training, 'r+') as f:
        n = f['X/data'].shape[0]; d = f['X/data'][: n // 2]
        del f['X/data']; f['X/data'] = d
    with pytest.raises(DataError, match='truncated|cannot be read'): perturbation_stats(folder.training, chunk_size=100, progress=False)

def test_streaming_is_chunk_size_independent(good):
    a, b = (perturbation_stats(good.training, chunk_size=c, progress=False) for c in (97, 5000))
    np.testing.assert_allclose(a.X, b.X, atol=1e-12)
    np.testing.assert_allclose(a.layers['mean_counts'], b.layers['mean_counts'], atol=1e-12)
    assert a.obs.n_cells.sum() == len(read_obs_var(good.training)[0])

def test_adapter_names_a_wrong_column(papalexi_path):
    with pytest.raises(DataError, match=r"pert_col='gene' is not an obs column.*perturbation"):
        read_perturb_seq(papalexi_path, pert_col='gene', control_label='non-targeting')
    with pytest.raises(DataError, match='control_label'):
        read_perturb_seq(papalexi_path, pert_col='perturbation', control_label='NTC')

def test_papalexi_in_challenge_schema(papalexi_path):
    a = read_papalexi(papalexi_path)
    assert a.shape == (20729, 299) and (a.obs.target_gene == CONTROL_LABEL).sum() == 2386
    assert {'target_gene', 'guide_id', 'batch', 'total_counts'} <= set(a.obs.columns)
    assert a.obs.batch.nunique() == 3
