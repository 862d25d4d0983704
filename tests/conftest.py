"Shared paths and fixtures for the integration tests."
import os, subprocess, time
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
NBS = ROOT/'nbs'
SHARED_DATA = ROOT.parent/'shared'/'data'
PAPALEXI = SHARED_DATA/'papalexi2021_thp1_eccite.h5ad'

@pytest.fixture
def papalexi_path():
    "Path of the real Papalexi screen; skips the test, saying why, where ../shared is absent."
    if not PAPALEXI.exists(): pytest.skip(f'real screen not found at {PAPALEXI} (../shared/data is only beside the project in CI and dev machines)')
    return PAPALEXI

def pytest_collection_modifyitems(config, items):
    "The docs tests last: by then the notebook tests have filled the docs' cache of executed notebooks, so the site build only renders."
    items.sort(key=lambda item: Path(str(item.fspath)).name == 'test_docs.py')

def pytest_configure(config):
    "One start time for the whole run, inherited by xdist's workers: a notebook the docs build executed in this run counts as tested."
    os.environ.setdefault('VCC_TEST_SESSION_START', str(time.time()))

@pytest.fixture(scope='session')
def vcc_cli():
    "Arc's vcc-cli 0.3.0 `vcc` command in its own environment, built (once, under a lock shared by the test workers) by ./run vcc-cli; never in .venv."
    res = subprocess.run([str(ROOT/'run'), 'vcc-cli'], capture_output=True, text=True, timeout=900)
    assert res.returncode == 0, f'./run vcc-cli failed:\n{res.stderr[-3000:]}'
    exe = ROOT/'.venv-vcccli'/'bin'/'vcc'
    assert exe.is_file(), f'./run vcc-cli succeeded but {exe} is missing'
    return exe
