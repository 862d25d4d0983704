"Every notebook in nbs/ runs top to bottom as a pytest case: a failing `test_eq` in a notebook fails the suite."
import os, subprocess, sys, time
from pathlib import Path
import pytest
from conftest import ROOT, NBS

sys.path.insert(0, str(ROOT/'scripts'))
import build_docs  # noqa: E402

NOTEBOOKS = sorted(p for p in NBS.rglob('*.ipynb') if not p.name.startswith('_') and '.ipynb_checkpoints' not in p.parts)
STAGES = set(build_docs.doc_notebooks())   # the notebooks that are pages of the docs site
SESSION_START = float(os.environ.get('VCC_TEST_SESSION_START', time.time()))   # set by conftest for every xdist worker

def test_notebooks_found(): assert len(NOTEBOOKS) >= 2, f'no notebooks under {NBS}'

@pytest.mark.parametrize('nb', NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(nb: Path):
    # A subprocess per notebook: a fresh kernel, as a user running it top to bottom would get.
    if nb in STAGES:
        # A page notebook runs the way the docs run it (nbdev's test runner, on a copy with the show_doc cells added),
        # into the docs' cache of executed notebooks, so the docs build (tests/test_docs.py) need not run it again; if the
        # docs build of this same test session executed it first (another xdist worker), that execution is the test.
        build_docs.EXEC.mkdir(parents=True, exist_ok=True)
        ok, out = build_docs._run_one(nb, build_docs.EXEC/f'{build_docs.page_name(nb)}.ipynb', fresh_after=SESSION_START)
        assert ok, out
        return
    nbdev_test = Path(sys.executable).parent/'nbdev-test'
    res = subprocess.run([str(nbdev_test), str(nb), '--do-print'], cwd=ROOT, capture_output=True, text=True)
    assert res.returncode == 0 and 'Success.' in res.stdout, f'{nb.name} failed:\n{res.stdout[-5000:]}\n{res.stderr[-15000:]}'
