"Readers of public screens (issue 24): small files written in each published layout (the real files cannot be downloaded here) stream to the same per-perturbation statistics as the cells themselves; genes resolved by symbol, alias and Ensembl id, missing genes NaN (never zero); bad files get one clear message."
import numpy as np, pandas as pd, pytest, anndata as ad, scipy.sparse as sp
from vcc.data import DataError
from vcc.contexts import make_context_screen, context_adata
from vcc.public_screens import LAYOUTS, to_layout, write_published, stream_screen, adata_stats, map_genes, ScreenStats

@pytest.fixture(scope='module')
def cells():
    scr = make_context_screen(targets=('A',), training=(), n_genes=150, n_perts=6, cells_per_pert=25, n_control=80, seed=4)
    return context_adata(scr, 'A')

@pytest.mark.parametrize('layout', list(LAYOUTS))
def test_layout_streams_to_the_cells_statistics(cells, layout, tmp_path):
    ids = [f'ENSG{i:011d}.{i % 3}' for i in range(cells.n_vars)]          # versioned ids, as GENCODE writes them
    f = tmp_path / {'replogle2022': 'K562_essential_raw_singlecell_01.h5ad', 'nadig2025': 'jurkat_raw_singlecell_01.h5ad', 'vcc2025': 'adata_Training.h5ad'}[layout]
    write_published(to_layout(cells, layout, gene_ids=ids), f, layout)   # stored as the published file is
    raw = ad.read_h5ad(f)
    if layout != 'vcc2025':   # the published layout: Ensembl index, symbol column, the Replogle obs columns, a dense X
        assert raw.var_names[0].startswith('ENSG') and 'gene_name' in raw.var and {'gene', 'gene_id', 'sgID_AB', 'UMI_count', 'gem_group'} <= set(raw.obs)
        assert isinstance(raw.X, np.ndarray) and raw.X.dtype == np.float32 and raw.obs.index.name == 'cell_barcode'
        assert ('core_adjusted_UMI_count' in raw.obs) == (layout == 'replogle2022')   # Nadig's files (GSE264667) have no core_* columns
    # the 2026 list: a renamed symbol (found by alias), one known only by Ensembl id, one the screen lacks
    genes = cells.var_names.tolist()
    listed = ['NEWNAME', 'BYID', 'ABSENT1'] + genes[2:]
    st = stream_screen(f, layout, genes=listed, aliases={genes[0]: 'NEWNAME'}, ids={'BYID': ids[1].split('.')[0]}, chunk_size=37)
    ref = adata_stats(cells, 'x')
    assert st.context == {'replogle2022': 'K562', 'nadig2025': 'Jurkat', 'vcc2025': 'H1'}[layout] and st.kind == 'CRISPRi'
    assert st.perts.tolist() == ref.perts.tolist() and st.n_cells.tolist() == ref.n_cells.tolist() and st.n_control == ref.n_control
    np.testing.assert_allclose(st.sums[:, 0], ref.sums[:, 0]); np.testing.assert_allclose(st.sums[:, 1], ref.sums[:, 1])
    np.testing.assert_allclose(st.sums[:, 3:], ref.sums[:, 2:]); np.testing.assert_allclose(st.control_sums[3:], ref.control_sums[2:])
    assert st.missing.tolist()[:3] == [False, False, True] and np.isnan(st.sums[:, 2]).all() and np.isnan(st.control_sums[2])
    assert np.isfinite(st.depth) and st.depth > 0
    if layout != 'vcc2025': assert st.depth == pytest.approx(np.median(np.asarray(cells.X.sum(1)).ravel() * 1.25), rel=0.01)  # UMI_count: whole transcriptome

def test_generic_layout_and_kind(cells, tmp_path):
    a = cells.copy(); a.obs = a.obs.rename(columns={'target_gene': 'perturbation'})
    a.obs['perturbation'] = a.obs.perturbation.astype(str).replace({'non-targeting': 'NT'})
    f = tmp_path / 'other.h5ad'; a.write_h5ad(f)
    st = stream_screen(f, 'generic', pert_col='perturbation', control_label='NT', context='THP1', kind='knockout')
    assert st.context == 'THP1' and st.kind == 'knockout' and st.n_control == (cells.obs.target_gene == 'non-targeting').sum()
    with pytest.raises(DataError, match='pert_col= and control_label='): stream_screen(f, 'generic')
    with pytest.raises(DataError, match='no cell has perturbation == .non-targeting.'): stream_screen(f, 'generic', pert_col='perturbation', control_label='non-targeting')

def test_bad_files_get_one_clear_message(cells, tmp_path):
    f = tmp_path / 'rpe1_raw_singlecell_01.h5ad'
    to_layout(cells, 'vcc2025').write_h5ad(f)
    with pytest.raises(DataError, match="not the replogle2022 layout"): stream_screen(f, 'replogle2022')
    with pytest.raises(DataError, match='file not found'): stream_screen(tmp_path / 'nope.h5ad')
    b = to_layout(cells, 'replogle2022'); b.X = sp.csr_matrix(np.log1p(b.X.toarray()))   # normalised values, not counts
    g = tmp_path / 'k562_norm.h5ad'; b.write_h5ad(g)
    with pytest.raises(DataError): stream_screen(g, 'replogle2022')

def test_map_genes_never_claims_a_column_twice():
    cols, how = map_genes(['A', 'B'], ['A'], aliases={'A': 'B'})    # B's alias is A, which A itself already holds
    assert cols.tolist() == [0, -1] and how.resolved_by.tolist() == ['symbol', 'missing']
