"The 2026 edition end to end on tiny data: the bundle, the .vcc byte for byte against the real vcc-cli 0.3.0, the submission, CV and the demo."
import io, json, os, shutil, subprocess, sys, tarfile
from pathlib import Path
import numpy as np, pandas as pd, scipy.sparse as sp, anndata as ad, pytest

from vcc.data import DataError
from vcc.contexts import (make_context_screen, write_context_bundle, validate_bundle, detect_edition, find_controls, read_controls,
                          BundleFolder, CONTEXT_COL)
from vcc.vccfile import (write_vcc_2026, read_vcc, read_vcc_meta, check_vcc, vcc_edition, vcc_cli_prep, verify_vcc_2026, perts_fingerprint,
                         SubmissionError, VCC_CLI_ENV)
from vcc.submit2026 import (ContextMeanBaseline, write_submission_2026, make_submission_2026, submission_obs, cross_validate_2026,
                            summarise_cv_2026, StandinScore, Metrics2026Score, run_demo_2026)

ROOT = Path(__file__).resolve().parents[1]
PY = ROOT/'.venv'/'bin'/'python'


@pytest.fixture(scope='module')
def bundle(tmp_path_factory):
    screen = make_context_screen(n_genes=120, n_perts=5, cells_per_pert=12, n_control=60, median_umi=3_000, seed=3)
    return write_context_bundle(tmp_path_factory.mktemp('b')/'bundle', screen=screen, progress=False), screen


def test_bundle_reads_validates_and_names_each_problem(bundle, tmp_path):
    bf, screen = bundle
    assert detect_edition(bf.root) == '2026'
    summary = validate_bundle(bf.root)
    assert summary.context.tolist()[-3:] == ['A', 'B', 'C']
    ctl = read_controls(bf.root)
    assert ctl.n_obs == 180 and ctl.var_names.tolist() == screen.genes and ctl.obs_names.is_unique
    assert set(ctl.obs[CONTEXT_COL]) == {'A', 'B', 'C'}
    (tmp_path/'2025').mkdir(); (tmp_path/'2025'/'adata_Training.h5ad').touch()
    assert detect_edition(tmp_path/'2025') == '2025'

    def problem(change):
        b = tmp_path/f'b{len(list(tmp_path.iterdir()))}'
        shutil.copytree(bf.root, b); change(b)
        with pytest.raises(DataError) as e: validate_bundle(b)
        return str(e.value)
    assert 'expected the header gene_name' in problem(lambda b: (b/'gene_names.csv').write_text('\n'.join(screen.genes)))
    assert 'no target_gene column' in problem(lambda b: (b/'pert_counts.csv').write_text('gene\nX\n'))
    assert 'non-empty list' in problem(lambda b: (b/'manifest.json').write_text('{"contexts": "A"}'))
    assert "no control h5ad for context(s) ['C']" in problem(lambda b: (b/'controls_C.h5ad').unlink())
    assert 'a second control file' in problem(lambda b: shutil.copy(b/'controls_A.h5ad', b/'more.h5ad'))


def _members(path):
    with tarfile.open(path) as t:
        return [(m.name, m.size if m.name == 'meta.json' else None, m.mode, m.uid, m.gid, m.uname, m.gname, m.mtime, m.type) for m in t.getmembers()], \
               t.extractfile('meta.json').read()


def test_vcc_2026_bytes_match_vcc_cli(vcc_cli, tmp_path):
    "The same prediction packed by vcc-cli's own prep and by write_vcc_2026 (in chunks): the same tar headers, meta.json and h5ad; the same file with python-zstandard."
    rng = np.random.default_rng(0)
    genes, perts, ctx = [f'G{i}' for i in range(70)], ['P1', 'P2', 'P3'], ['A', 'B']
    obs = pd.DataFrame({'target_gene': np.tile(np.repeat(perts, 8), 2), 'context': np.repeat(ctx, 24)}, index=[f'c{i}' for i in range(48)])
    X = sp.csr_matrix(rng.poisson(0.8, (48, 70)).astype(np.float32))
    pd.DataFrame({'gene_name': genes}).to_csv(tmp_path/'gene_names.csv', index=False)
    pd.DataFrame({'target_gene': perts}).to_csv(tmp_path/'pert_counts.csv', index=False)
    (tmp_path/'manifest.json').write_text(json.dumps(dict(contexts=ctx, partition='validation', panel_id='panel-x')))
    ad.AnnData(X, obs=obs.astype('category'), var=pd.DataFrame(index=genes)).write_h5ad(tmp_path/'pred.h5ad')
    res = subprocess.run([str(vcc_cli), 'prep', str(tmp_path/'pred.h5ad'), '-g', str(tmp_path/'gene_names.csv'), '--perts', str(tmp_path/'pert_counts.csv'),
                          '--cells-per-pert', '8', '--expected-gene-dim', '-1', '-o', str(tmp_path/'cli.vcc')], capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr
    ours = write_vcc_2026(tmp_path/'ours.vcc', (X[i:i + 10] for i in range(0, 48, 10)), obs, genes, ctx, targets=perts, panel_id='panel-x')
    assert _members(ours) == _members(tmp_path/'cli.vcc')
    assert json.loads(_members(ours)[1])['perts_fingerprint'] == perts_fingerprint(perts)
    h5 = lambda p: subprocess.run(f"tar -xOf {p} pred.h5ad.zst | zstd -dcq", shell=True, capture_output=True, check=True).stdout
    assert h5(ours) == h5(tmp_path/'cli.vcc')
    # the whole file, compressed by python-zstandard as vcc-cli does (taken from vcc-cli's environment where .venv lacks it)
    zdir = tmp_path/'zonly'; zdir.mkdir()
    site = next((ROOT/VCC_CLI_ENV/'lib').glob('python3*/site-packages'))
    (zdir/'zstandard').symlink_to(site/'zstandard')
    code = ("import sys, numpy as np, pandas as pd, scipy.sparse as sp, anndata as ad; from vcc.vccfile import write_vcc_2026, zstd_compress; "
            "a = ad.read_h5ad(sys.argv[1]); o = a.obs.astype(str); assert zstd_compress.__module__ == 'vcc.vccfile'; "
            "write_vcc_2026(sys.argv[2], [a.X[:20], a.X[20:]], o, a.var_names, ['A', 'B'], targets=['P1', 'P2', 'P3'], panel_id='panel-x')")
    env = {**os.environ, 'PYTHONPATH': str(zdir)}
    res = subprocess.run([str(PY), '-c', code, str(tmp_path/'pred.h5ad'), str(tmp_path/'ours_z.vcc')], capture_output=True, text=True, env=env)
    assert res.returncode == 0, res.stderr[-2000:]
    assert (tmp_path/'ours_z.vcc').read_bytes() == (tmp_path/'cli.vcc').read_bytes()
    try:
        import zstandard  # noqa: F401
        assert ours.read_bytes() == (tmp_path/'cli.vcc').read_bytes()
    except ImportError: pass
    back = read_vcc(ours)
    assert (back.X != X).nnz == 0 and back.obs.context.astype(str).tolist() == obs.context.tolist()
    assert vcc_edition(ours) == '2026' and check_vcc(ours) == ours


def test_vcc_cli_lives_beside_vcc(vcc_cli):
    "Our `vcc` command and package in .venv, vcc-cli's `vcc` in .venv-vcccli, neither shadowing the other."
    ours = subprocess.run([str(ROOT/'.venv'/'bin'/'vcc'), '--help'], capture_output=True, text=True)
    assert ours.returncode == 0 and 'Virtual Cell Challenge toolkit' in ours.stdout
    theirs = subprocess.run([str(vcc_cli), 'prep', '--help'], capture_output=True, text=True)
    assert theirs.returncode == 0 and '--dry-run' in theirs.stdout
    where = subprocess.run([str(PY), '-c', 'import vcc, importlib.util; print(vcc.__file__); print(importlib.util.find_spec("vcc.prep"))'],
                           capture_output=True, text=True, cwd='/')
    assert where.stdout.splitlines() == [str(ROOT/'vcc'/'__init__.py'), 'None']
    other = subprocess.run([str(ROOT/VCC_CLI_ENV/'bin'/'python'), '-c', 'import vcc.prep, vcc; print(vcc.__file__)'], capture_output=True, text=True, cwd='/')
    assert other.returncode == 0 and VCC_CLI_ENV in other.stdout
    pip = subprocess.run([str(PY), '-m', 'pip', 'show', 'vcc-cli'], capture_output=True, text=True)
    assert pip.returncode != 0  # never installed into .venv


def test_submission_2026_is_what_vcc_cli_accepts(vcc_cli, bundle, tmp_path):
    bf, screen = bundle
    model = ContextMeanBaseline().fit(ad.read_h5ad(bf.screens))
    v = make_submission_2026(model, bf.root, 'v1', root=tmp_path/'subs', cells_per_pert=12, verify='repack')
    man = json.loads((v/'manifest.json').read_text())
    assert man['vcc_cli']['verified_targets'] and man['vcc_cli']['same_h5ad'] and man['vcc_cli']['same_meta']
    assert man['vcc_cli']['cells_per_context'] == {'A': 60, 'B': 60, 'C': 60}
    sub = read_vcc(v/'submission.vcc')
    assert sub.obs.groupby(['context', 'target_gene'], observed=True).size().eq(12).all()
    assert 'non-targeting' not in set(sub.obs.target_gene.astype(str))
    assert sub.var_names.tolist() == screen.genes and np.array_equal(sub.X.data, np.round(sub.X.data))
    assert np.asarray(sub.X.sum(1)).max() <= 1_000_000
    with pytest.raises(SubmissionError, match='never overwritten'): make_submission_2026(model, bf.root, 'v1', root=tmp_path/'subs')
    # vcc-cli itself refuses a file with a perturbation short of cells; ours never writes one
    bad = sub[np.arange(sub.n_obs) != 0].copy()  # one cell short in the first (context, perturbation)
    bad.write_h5ad(tmp_path/'bad.h5ad')
    with pytest.raises(SubmissionError, match='wrong number of cells'):
        vcc_cli_prep(tmp_path/'bad.h5ad', bf.gene_names, bf.pert_counts, cells_per_pert=12, expected_gene_dim=120)


def test_submission_caps_and_model_shape(bundle, tmp_path):
    bf, screen = bundle
    with pytest.raises(SubmissionError, match='above the cap of 400,000'): submission_obs([f'g{i}' for i in range(300)], ['A', 'B', 'C', 'D'], 400)
    class Wrong:
        def predict_scale(self, control_mean, targets, context=None): return np.ones((len(targets), 3))
    with pytest.raises(SubmissionError, match='factors of shape'): write_submission_2026(Wrong(), bf.root, tmp_path/'w.vcc', cells_per_pert=4)
    assert not list(tmp_path.iterdir())  # nothing half-written


def test_cv_and_demo_2026(vcc_cli, tmp_path):
    demo = run_demo_2026(tmp_path/'demo', root=tmp_path/'subs', version='demo', n_genes=150, n_perts=6, cells_per_pert=16, n_control=80,
                         median_umi=3_000, n_folds=2, progress=False, verify='dry-run', score=StandinScore(n_replicates=2))
    board = demo['leaderboard']
    assert sorted(board.kind.unique()) == ['heldout_perts', 'leave_context_out', 'truth']
    assert ((board.s_lo <= board.s) & (board.s <= board.s_hi)).all()
    cv = pd.read_csv(demo['cv_results'])
    assert set(cv.context) == {'T1', 'T2', 'A', 'B', 'C'}
    man = json.loads(demo['manifest'].read_text())
    assert man['vcc_cli']['verified_targets'] is True
    # the bundle has 16 cells per perturbation; what is submitted has the challenge's 400 (the writer of vcc submit --edition 2026)
    assert man['meta']['n_obs'] == 6 * 400 * 3 and man['cells_per_pert'] == 400
    assert read_vcc(demo['vcc']).obs.groupby(['context', 'target_gene'], observed=True).size().eq(400).all()
    # the report draws the per-context metrics against b and r, and the per-perturbation spread
    from vcc.pipeline import write_report_2026
    html = (write_report_2026(demo['version'], tmp_path/'reports')/'report.html').read_text()
    assert html.count('<img') == 2 and 'Per perturbation' in html
    again = run_demo_2026(tmp_path/'demo', root=tmp_path/'subs', version='demo2', n_genes=150, n_perts=6, cells_per_pert=16, n_control=80,
                          n_folds=2, progress=False, verify=None, score=StandinScore(n_replicates=1))
    assert again['folder'] == demo['folder']  # the bundle is reused


def test_cv_with_the_exact_2026_score():
    "Leave-one-context-out CV of the context-mean baseline scored by vcc.metrics2026 (cell-eval2's vcc2026): six metrics, b, r and s per context, intervals."
    from vcc.contexts import context_adata
    screen = make_context_screen(targets=(), training=('T1', 'T2'), n_genes=800, n_perts=8, cells_per_pert=300, n_control=600, seed=2)
    screens = ad.concat([context_adata(screen, c) for c in screen.training], index_unique='-')
    score = Metrics2026Score()
    cv = cross_validate_2026(screens, kinds=('leave_context_out',), score=score)
    assert cv.score.startswith('vcc.metrics2026')
    assert cv.table.groupby('context').metric.nunique().tolist() == [6, 6]
    assert np.isfinite(cv.table[['u', 'b', 'r']].to_numpy()).all()
    assert (cv.table.r > cv.table.b).sum() >= 8  # the replicate ceiling above the baseline on most metrics
    board = summarise_cv_2026(cv, score, n_boot=50)
    assert len(board) == 6 and (board.s_lo <= board.s_hi).all()
