"The project's own rules: the package matches the notebooks, the README matches index.ipynb, the CI runs the README's test command."
import subprocess, sys, re
from pathlib import Path
from conftest import ROOT

def _bin(name): return str(Path(sys.executable).parent/name)

def test_package_matches_notebooks(tmp_path):
    # Export into a copy so the test never rewrites the working tree.
    import shutil
    dst = tmp_path/'proj'
    shutil.copytree(ROOT, dst, ignore=shutil.ignore_patterns('.venv', '.git', 'data', 'runs', 'submissions', '_docs', '_proc', '__pycache__', '*.egg-info', 'reports'))
    subprocess.run([_bin('nbdev-export')], cwd=dst, check=True, capture_output=True)
    for f in sorted((ROOT/'vcc').rglob('*.py')):
        rel = f.relative_to(ROOT)
        assert (dst/rel).read_text() == f.read_text(), f'{rel} differs from what nbdev-export makes of nbs/: run nbdev-export and commit both'

def test_readme_opens_with_the_two_commands():
    readme = (ROOT/'README.md').read_text()
    blocks = re.findall(r'```(?:sh|bash)\n(.*?)```', readme, re.S)
    assert blocks, 'README.md has no shell block'
    first = blocks[0]
    assert './run demo' in first and './run test' in first, first
    assert (ROOT/'.ci'/'run').read_text().strip().endswith('./run test')

def test_readme_matches_index():
    res = subprocess.run([sys.executable, str(ROOT/'scripts'/'make_readme.py'), '--check'], cwd=ROOT, capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr
