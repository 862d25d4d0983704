"""The command line's contract, through the command line (subprocess) on real files: usage errors exit 2 at once and
name the flag; data, file and machine problems exit 1 with one message and no traceback; an output folder that is
read-only or on a full disk (a real tiny tmpfs, mounted in a private mount namespace where the machine allows it) is
refused before the work; a write that fails mid-way (a real ENOSPC) leaves nothing behind; a killed command's
temporary folder is named, then removed, by the next command; the plain train -> submit -> report path works; the
README's walkthrough runs verbatim; the core modules import none of the heavy extras."""
import errno, json, os, re, shutil, signal, subprocess, sys, time
from pathlib import Path
import pytest
from conftest import ROOT

VCC = str(Path(sys.executable).parent/'vcc')
HEAVY = ('torch', 'lightning', 'papermill', 'nbdev', 'jupyterlab')

def vcc(*args, cwd=None, timeout=300, env=None):
    "Run the installed console script; (exit code, stdout, stderr, seconds)."
    t0 = time.time()
    r = subprocess.run([VCC, *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)
    return r.returncode, r.stdout, r.stderr, time.time() - t0

def no_traceback(err): assert 'Traceback' not in err, err[-3000:]

@pytest.fixture(scope='module')
def project(tmp_path_factory):
    "A working folder with a small built-in data folder (data/demo, as `vcc simulate` makes it) and one trained run."
    from vcc.data import write_screen
    d = tmp_path_factory.mktemp('project')
    write_screen(d/'data'/'demo', n_genes=200, n_train=10, n_val=4, n_test=4, n_control=200, cells_per_pert=40, progress=False)
    code, out, err, _ = vcc('train', '--model', 'pert_mean', cwd=d)
    assert code == 0, err
    run = Path(re.search(r'^run: (.+)$', out, re.M).group(1))
    return d, run

# ---------------------------------------------------------------- start-up and usage
def test_help_is_fast():
    for args in (['--help'], ['train', '--help'], ['submit', '--help']):
        code, out, err, dt = vcc(*args)
        assert code == 0 and 'default' in out, out
        assert dt < 0.5, f'vcc {" ".join(args)} took {dt:.2f} s'

USAGE_ERRORS = [(['evaluate', '--folds', '0'], '--folds'), (['evaluate', '--folds', '1'], '--folds'), (['evaluate', '--repeats', '0'], '--repeats'),
                (['train', '--params', '{bad json'], '--params'), (['train', '--params', '[1, 2]'], '--params'), (['train', '--seed', '-1'], '--seed'),
                (['train', '--max-controls', '-5'], '--max-controls'), (['train', '--max-controls', '0'], '--max-controls'),
                (['submit', '--run', 'r', '--version', '../v1'], '--version'), (['submit', '--version', 'v1'], '--run'), (['nonsense'], 'COMMAND'),
                (['score', 'x.h5ad'], '--real'), (['evaluate', '--truth', 'train'], '--truth'),
                (['train', '--model', 'typo'], '--model'), (['evaluate', '--models', 'linear,typo'], '--models'), (['demo', '--model', 'typo'], '--model'),
                (['train', '--model', 'linear', '--rules', 'installed'], '--rules'), (['train', '--resume', 'r', '--rules', '2025'], '--rules'),
                (['train', '--edition', '2026', '--rules', '2025'], '--rules'), (['train', '--edition', '2026', '--screens', 'k.h5ad:replogle2023'], '--screens'), (['train', '--model', 'auto', '--rules', '2025', '--params', '{"rules": "installed"}'], '--rules')]

@pytest.mark.parametrize('argv,flag', USAGE_ERRORS, ids=[' '.join(a) for a, _ in USAGE_ERRORS])
def test_usage_errors_exit_2_at_once(argv, flag):
    code, out, err, dt = vcc(*argv)
    assert code == 2 and flag in err, err
    no_traceback(err)
    assert dt < 0.5, f'{dt:.2f} s'

def test_unknown_model_is_a_usage_error(project):
    d, run = project
    code, _, err, _ = vcc('train', '--model', 'linaer', cwd=d)
    assert code == 2 and "did you mean 'linear'" in err and 'vcc models' in err, err
    code, _, err, _ = vcc('train', '--resume', run, '--model', 'linear', cwd=d)   # --resume takes the run's own settings
    assert code == 2 and '--model' in err, err

def test_core_imports_no_heavy_extra():
    code = ('import sys, vcc.cli, vcc.data, vcc.metrics, vcc.submit, vcc.evaluate\n'
            f'print(sorted(m for m in {HEAVY!r} if m in sys.modules))')
    r = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.strip() == '[]', r.stdout + r.stderr

def test_core_dependencies_exclude_heavy_extras():
    "Everything `pip install vcc` (no extra) pulls in: pyproject's dependencies and theirs, read from the installed packages' metadata."
    import tomllib
    from importlib import metadata
    from packaging.requirements import Requirement
    project = tomllib.loads((ROOT/'pyproject.toml').read_text())['project']
    seen, todo = set(), [Requirement(r) for r in project['dependencies']]
    while todo:
        req = todo.pop()
        name = req.name.lower().replace('_', '-')
        if name in seen or (req.marker and not req.marker.evaluate({'extra': ''})): continue
        seen.add(name)
        try: todo += [Requirement(r) for r in metadata.requires(name) or []]
        except metadata.PackageNotFoundError: pass
    heavy = {'torch', 'lightning', 'pytorch-lightning', 'papermill', 'nbdev', 'execnb', 'jupyterlab', 'notebook'}
    assert not seen & heavy, sorted(seen & heavy)
    assert {'cell-eval', 'anndata', 'numpy', 'h5py'} <= seen
    extras = project['optional-dependencies']
    assert {'models', 'report', 'dev'} <= set(extras) and 'vcc[models,report]' in extras['dev'], extras
    assert any(r.startswith('torch') for r in extras['models']) and any(r.startswith('papermill') for r in extras['report'])

def test_model_names_are_the_registry():
    "The CLI's own copy of the names (so a typo answers without importing the models) is the registry's, line for line."
    from vcc.cli import MODEL_LINES, registry_model_lines, model_lines_source
    live = registry_model_lines()
    assert list(MODEL_LINES.items()) == list(live.items()), 'replace MODEL_LINES in nbs/08_cli.ipynb with:\n' + model_lines_source(live)

def test_models_lists_every_name():
    from vcc.train import REGISTRY, PRESETS
    code, out, err, dt = vcc('models')
    assert code == 0, err
    assert dt < 0.5, f'vcc models took {dt:.2f} s'
    listed = {l.split()[0] for l in out.splitlines() if l.strip() and not l.startswith(tuple('0123456789'))}
    assert set(REGISTRY) | set(PRESETS) <= listed, set(REGISTRY) | set(PRESETS) - listed
    from vcc.cli import DEFAULT_MODEL
    assert DEFAULT_MODEL == 'auto' and re.search(r'^auto\s.*\[default\]$', out, re.M), out

def _ranked_names():
    "Model names in the first column of the leaderboard tables the notebooks and the README show (| model | score | ...)."
    names = {}
    sources = [(p.name, ''.join(''.join(c['source']) for c in json.loads(p.read_text())['cells'] if c['cell_type'] == 'markdown'))
               for p in sorted((ROOT/'nbs').glob('*.ipynb'))] + [('README.md', (ROOT/'README.md').read_text())]
    for where, text in sources:
        for table in re.findall(r'^\|\s*model\s*\|.*\n\|[-| :]+\|\n((?:\|.*\|\n?)+)', text, re.M | re.I):
            for row in table.splitlines(): names.setdefault(row.split('|')[1].split(' (')[0].strip().strip('`*'), where)   # 'name (30 epochs)': the name
    return names

def test_every_ranked_name_is_accepted_by_train():
    from vcc.cli import model_names
    from vcc.evaluate import BASELINE, REPLICATE
    known = set(model_names()) | {BASELINE, REPLICATE, 'cell_mean_baseline', 'replicate'}
    ranked = _ranked_names()
    assert ranked, 'no leaderboard table found'
    assert not {n: w for n, w in ranked.items() if n not in known}, {n: w for n, w in ranked.items() if n not in known}

AUTO_SMALL = {'candidates': {'linear': ['linear', {}], 'pert_mean+kd': ['pert_mean', {'knockdown': True}]}, 'n_folds': 2, 'repeats': 1, 'n_boot': 20}

def test_train_rules_reach_the_model(project, tmp_path):
    "--rules goes to a model that scores while it trains (auto), is kept in the run's config and used by the model loaded back; 2025 unless told."
    d, run = project
    for given, want in ((['--rules', 'installed'], 'installed'), ([], '2025')):
        code, out, err, _ = vcc('train', '--model', 'auto', '--params', json.dumps(AUTO_SMALL), *given, '--runs', tmp_path/want, cwd=d)
        assert code == 0, err
        new = d/re.search(r'^run: (.+)$', out, re.M).group(1)
        assert json.loads((new/'config.json').read_text())['params']['rules'] == want
        from vcc.train import load_run
        assert load_run(new).rules == want
    assert 'rules' not in json.loads((d/run/'config.json').read_text())['params']   # pert_mean takes none, and gets none

# ---------------------------------------------------------------- data and file problems
def test_data_problems_one_message(project, tmp_path):
    d, run = project
    (tmp_path/'zero.h5ad').write_bytes(b''); (tmp_path/'afile').write_text('x')
    cases = [(['train', '--data', tmp_path/'zero.h5ad'], 'zero.h5ad'), (['train', '--runs', tmp_path/'afile'], 'pass --runs'),
             (['submit', '--run', tmp_path, '--version', 'v1'], str(tmp_path)), (['report', '--version', 'v9'], 'no submission version'),
             (['simulate', '--out', 'data/demo'], '--overwrite')]
    for argv, needle in cases:
        code, _, err, _ = vcc(*argv, cwd=d)
        assert code == 1 and needle in err, (argv, err)
        no_traceback(err)
        assert 'overwrite=True' not in err and 'Fix: ' not in err.replace('fix: ', ''), err
    code, _, err, _ = vcc('train', cwd=tmp_path)   # no --data and no built-in data here: said, with the fix
    assert code == 1 and 'vcc simulate' in err and '--data' in err, err

def test_plain_train_submit_report(project, tmp_path):
    "The README's path without vcc evaluate first; a relative --data from another folder; a --root with a space (quoted in the hint)."
    d, run = project
    root = d/'my subs'
    code, out, err, _ = vcc('submit', '--run', run, '--version', 'plain', '--root', root, cwd=d)
    assert code == 0, err
    assert f"next: vcc report --version plain --root '{root}'" in out, out
    assert 'data: ' in err and 'trained on' in err, err   # which data folder it used: the run's
    other = tmp_path/'elsewhere'; other.mkdir()
    rel_data = os.path.relpath(d/'data'/'demo', other)
    code, out, err, _ = vcc('report', '--version', 'plain', '--root', root, '--data', rel_data, '--reports', 'reports', cwd=other)
    assert code == 0, err
    html = (other/'reports'/'plain'/'report.html').read_text()
    assert 'not cross-validated' in html and 'read_manifest' not in html and '&lt;NA&gt;' not in html and '&lt;class' not in html
    assert json.loads((other/'reports'/'plain'/'summary.json').read_text())['score'] is None

# ---------------------------------------------------------------- the machine: read-only, full disk, killed, interrupted
def _can_mount():
    if shutil.which('unshare') is None: return False
    return subprocess.run(['unshare', '-m', 'sh', '-c', 'mount -t tmpfs -o size=64k tmpfs /mnt'], capture_output=True).returncode == 0

MOUNT = pytest.mark.skipif(not _can_mount(), reason='cannot mount a tmpfs in a private mount namespace here (unshare -m; needs root or user namespaces)')

def vcc_on_tmpfs(mountpoint, options, *args, cwd):
    "`vcc args` in a private mount namespace where `mountpoint` is a fresh tmpfs mounted with `options` (gone when it exits)."
    script = f'mount -t tmpfs -o {options} tmpfs "$1" && shift && exec "$@"'
    t0 = time.time()
    r = subprocess.run(['unshare', '-m', 'sh', '-c', script, 'sh', str(mountpoint), VCC, *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=300)
    return r.returncode, r.stdout, r.stderr, time.time() - t0

@MOUNT
@pytest.mark.parametrize('argv', [['train', '--runs', '{m}/runs'], ['submit', '--run', '{run}', '--version', 'v1', '--root', '{m}/subs'],
                                  ['simulate', '--out', '{m}/demo'], ['evaluate', '--models', 'pert_mean', '--folds', '2', '--out', '{m}/board'],
                                  ['score', 'data/demo/adata_Validation_truth.h5ad', '--real', 'data/demo/adata_Validation_truth.h5ad', '--out', '{m}/scores']],
                         ids=['train', 'submit', 'simulate', 'evaluate', 'score'])
def test_read_only_output_refused_before_work(project, tmp_path, argv):
    d, run = project
    m = tmp_path/'ro'; m.mkdir()
    code, out, err, dt = vcc_on_tmpfs(m, 'ro,size=1m', *[a.format(m=m, run=run) for a in argv], cwd=d)
    assert code == 1 and 'read-only' in err, err
    no_traceback(err)
    assert dt < 10, f'refused only after {dt:.0f} s: the check must come before the work'

@MOUNT
@pytest.mark.parametrize('argv', [['train', '--runs', '{m}/runs'], ['simulate', '--out', '{m}/demo'], ['report', '--version', 'v1', '--reports', '{m}/reports']],
                         ids=['train', 'simulate', 'report'])
def test_full_disk_refused_before_work(project, tmp_path, argv):
    d, run = project
    if argv[0] == 'report' and not (d/'submissions'/'v1').exists(): assert vcc('submit', '--run', run, '--version', 'v1', cwd=d)[0] == 0
    m = tmp_path/'tiny'; m.mkdir()
    code, out, err, _ = vcc_on_tmpfs(m, 'size=64k', *[a.format(m=m) for a in argv], cwd=d)
    assert code == 1 and 'free on this disk' in err and 'needed' in err, err   # not a segfault (139), not a traceback
    no_traceback(err)

@MOUNT
@pytest.mark.parametrize('argv', [['train', '--model', 'pert_mean', '--runs', '{m}/runs'], ['submit', '--run', '{run}', '--version', 'v9', '--root', '{m}/subs']],
                         ids=['train', 'submit'])
def test_disk_full_mid_write_leaves_nothing(project, tmp_path, argv):
    """A real ENOSPC in the middle of the work: a tmpfs with room to spare (the check before the work passes) but only
    4 inodes, so creating the run's or the version's files fails part-way. One message, exit 1, nothing half-made left."""
    d, run = project
    m = tmp_path/'inodes'; m.mkdir()
    script = f'mount -t tmpfs -o size=300m,nr_inodes=4 tmpfs "$1" && shift && "$@"; echo "rc=$?"; find "{m}" -mindepth 1'
    r = subprocess.run(['unshare', '-m', 'sh', '-c', script, 'sh', str(m), VCC, *[a.format(m=m, run=run) for a in argv]],
                       cwd=d, capture_output=True, text=True, timeout=300)
    assert 'rc=1' in r.stdout and re.search(r'disk (is full|filled up)', r.stderr), r.stdout + r.stderr
    no_traceback(r.stderr)
    left = r.stdout.split('rc=1')[-1].split()
    assert left == [str(m/argv[-1].split('/')[-1])], f'left behind: {left}'   # the output folder itself, empty

@MOUNT
def test_disk_full_in_cell_eval_prep(project, tmp_path):
    """`--packer cell-eval` on a tmpfs with a few inodes: for each limit the disk fills at another step inside prep (its copy
    of the prediction, its watermark, its tar, which prep reports with exit 0). Each run either makes the whole version or says
    the disk is full, naming the folder and the fix, and leaves nothing; at least one fills up inside prep."""
    d, run = project
    m = tmp_path/'prep'; m.mkdir()
    script = ('for n in 6 7 8; do mount -t tmpfs -o size=300m,nr_inodes=$n tmpfs "$1" && "$2" submit --run "$3" --version v9 --root "$1/subs" '
              '--packer cell-eval; echo "rc=$? n=$n"; find "$1" -mindepth 1; echo "===="; umount "$1"; done')
    r = subprocess.run(['unshare', '-m', 'sh', '-c', script, 'sh', str(m), VCC, str(run)], cwd=d, capture_output=True, text=True, timeout=300)
    outs, errs = r.stdout.split('====')[:-1], r.stderr.split('vcc submit: data:')[1:]
    assert len(outs) == len(errs) == 3, r.stdout + r.stderr
    in_prep = 0
    for out, err in zip(outs, errs):
        no_traceback(err)
        left = [l for l in out.splitlines() if l.startswith(str(m))]
        if 'rc=0' in out:
            assert sorted(Path(p).name for p in left) == ['h5ad.sha256', 'manifest.json', 'submission.prep.vcc', 'subs', 'v9'], out
            continue
        assert 'rc=1' in out and 'the disk is full' in err and '--root' in err and f'{m}/subs' in err, out + err
        assert 'cell-eval prep failed' not in err and '.tmp' not in err, err   # said as a full disk, at the folder the user named
        assert left == [str(m/'subs')], f'left behind: {left}'
        in_prep += 'cell-eval prep' in err
    assert in_prep, 'no limit made the disk fill up inside cell-eval prep: ' + r.stderr

def test_enospc_in_process_leaves_no_version(project, monkeypatch, capsys):
    "The same path with a real OSError(ENOSPC) raised where the packed file is written (any machine, no mount needed)."
    d, run = project
    import vcc.submit, vcc.cli
    def full(*a, **k): raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(d/'submissions'/'.x.tmp'/'submission.prep.vcc'))
    monkeypatch.setattr(vcc.submit, 'pack_vcc', full)
    monkeypatch.chdir(d)
    assert vcc.cli.main(['submit', '--run', str(run), '--version', 'enospc', '--packer', 'vcc']) == 1
    err = capsys.readouterr().err
    assert 'disk is full' in err and '--root' in err and 'Traceback' not in err, err
    assert not (d/'submissions'/'enospc').exists() and not list((d/'submissions').glob('.enospc.*')), list((d/'submissions').iterdir())

def test_killed_submit_temp_removed_next_time(project):
    "SIGKILL in the middle of a submit leaves its hidden temporary folder; the next submit in that root removes it and says so."
    d, run = project
    root = d/'killed'
    proc = subprocess.Popen([VCC, 'submit', '--run', str(run), '--version', 'k1', '--root', str(root)], cwd=d, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    end = time.time() + 60
    while time.time() < end and proc.poll() is None and not list(root.glob('.k1.*')): time.sleep(0.002)
    if proc.poll() is not None: pytest.skip('submit finished before it could be killed mid-way')
    proc.send_signal(signal.SIGKILL); proc.wait()
    left = list(root.glob('.k1.*'))
    assert left, 'a killed submit left no temporary folder to test with'
    code, out, err, _ = vcc('submit', '--run', run, '--version', 'k2', '--root', root, cwd=d)
    assert code == 0 and str(left[0]) in err and 'removed' in err, err
    assert not left[0].exists() and not (root/'k1').exists()

def test_ctrl_c_exits_130(project):
    d, run = project
    proc = subprocess.Popen([VCC, 'evaluate', '--models', 'pert_mean,linear,kernel_ridge', '--repeats', '50', '--out', 'interrupted'], cwd=d,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(4)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and 'interrupted' in err, (proc.returncode, err[-2000:])
    no_traceback(err)
    assert not (d/'interrupted'/'leaderboard.csv').exists()

# ---------------------------------------------------------------- the README, verbatim
def test_readme_walkthrough_runs_verbatim(tmp_path):
    "The README's stage-by-stage block, pasted into a shell in a folder whose data/demo exists (as ./run demo leaves it)."
    from vcc.data import write_screen
    readme = (ROOT/'README.md').read_text()
    block = next(b for b in re.findall(r'```sh\n(.*?)```', readme, re.S) if 'vcc train' in b and 'vcc report' in b)
    lines = [l.split('  #')[0].strip() for l in block.splitlines()]
    script = '\n'.join(l for l in lines if l and not l.startswith('#'))
    assert 'vcc submit' in script and 'vcc report' in script, script
    write_screen(tmp_path/'data'/'demo', n_genes=200, n_train=10, n_val=4, n_test=4, n_control=200, cells_per_pert=40, progress=False)
    (tmp_path/'.venv').symlink_to(Path(sys.executable).parents[1])
    r = subprocess.run(['bash', '-ec', script], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, f'{script}\n---\n{r.stdout[-3000:]}\n{r.stderr[-5000:]}'
    assert list((tmp_path/'reports').glob('*/report.html'))

# ---------------------------------------------------------------- the 2026 edition
def test_2026_demo_score_doctor_train_submit_report(vcc_cli, tmp_path):
    "The 2026 edition end to end through the command line, at the tiny size: vcc-cli's prep repacks the .vcc byte for byte."
    code, out, err, _ = vcc('demo', '--edition', '2026', '--size', 'tiny', cwd=tmp_path)
    assert code == 0, err[-3000:]
    assert 'leave_context_out' in out and 'truth' in out and 'rules: cell-eval2 0.20.0 vcc2026' in out, out
    man = json.loads((tmp_path/'submissions'/'v1'/'manifest.json').read_text())
    assert man['edition'] == '2026' and man['meta']['n_obs'] == 8 * 400 * 3   # the challenge's 400 cells per perturbation, whatever the bundle's size
    assert man['vcc_cli']['check'] == 'repack' and 'vcc-cli check: repack' in out
    summary = json.loads((tmp_path/'reports'/'v1'/'summary.json').read_text())
    assert {r['context'] for r in summary['per_context']} == {'A', 'B', 'C', 'T1', 'T2'} and 'pds_cosine' in summary['per_context'][0]
    code, out, err, _ = vcc('doctor', '--data', 'data/demo2026', cwd=tmp_path)
    assert code == 0 and 'edition 2026 (detected' in err and 'controls_A.h5ad' in out, out + err
    # --edition that the folder contradicts: one message, what it found and the fix
    code, out, err, _ = vcc('doctor', '--edition', '2025', '--data', 'data/demo2026', cwd=tmp_path)
    assert code == 1 and 'is a 2026 controls bundle' in err and 'fix: pass --edition 2026' in err, err
    no_traceback(err)
    # train auto (leave-one-context-out over the reference screens) -> submit (400 cells per perturbation per context) -> report
    code, out, err, _ = vcc('train', '--edition', '2026', '--model', 'auto', cwd=tmp_path)
    assert code == 0 and 'chosen: ' in out, err[-3000:]
    run = re.search(r'^run: (.+)$', out, re.M).group(1)
    code, out, err, _ = vcc('submit', '--run', run, '--version', 'v2', cwd=tmp_path)   # the edition from the run
    assert code == 0 and '9,600 cells' in out, err[-3000:]
    code, out, err, _ = vcc('report', '--version', 'v2', cwd=tmp_path)
    assert code == 0 and (tmp_path/'reports'/'v2'/'report.html').exists(), err[-3000:]
    # the edition is detected from the .vcc; the six metrics per context of each file, u/b/r/s, and the rules; two files
    # of one name in two folders are two rows, named as the 2025 scores are; an existing table is refused before the work
    both = ['score', 'submissions/v1/submission.vcc', 'submissions/v2/submission.vcc', '--real', 'data/demo2026', '--out', 'scores26']
    code, out, err, _ = vcc(*both, cwd=tmp_path)
    assert code == 0 and 'edition 2026 (detected' in err, err[-3000:]
    for ctx in 'ABC': assert out.count(f'context {ctx}: score') == 2, out
    assert out.count('de_wilcoxon_lfc_nmae') == 6 and ' u ' in out and ' s' in out and 'GPU' in out, out
    table = (tmp_path/'scores26'/'scores2026.csv').read_text()
    assert 'v1/submission.vcc' in table and 'v2/submission.vcc' in table, table[:500]
    t0 = time.time()
    code, out, err, _ = vcc(*both, cwd=tmp_path)
    assert code == 1 and 'exists' in err and '--overwrite' in err and time.time() - t0 < 20, err[-2000:]
    code, out, err, _ = vcc('train', '--edition', '2026', '--model', 'linear', cwd=tmp_path)
    assert code == 2 and 'not a 2026 model' in err and 'auto' in err, err

def test_2026_flags_on_2025_data(project):
    d, run = project
    code, _, err, _ = vcc('train', '--edition', '2026', '--data', 'data/demo', cwd=d)
    assert code == 1 and 'is a 2025 challenge folder' in err and 'pass --edition 2025' in err, err
    no_traceback(err)
    code, _, err, _ = vcc('submit', '--edition', '2026', '--run', run, '--version', 'vx', cwd=d)
    assert code == 1 and 'a run of the 2025 edition' in err, err
    code, _, err, _ = vcc('simulate', '--size', 'tiny', '--out', d/'x', cwd=d)
    assert code == 2 and '2026 only' in err, err
    truth = 'data/demo/adata_Validation_truth.h5ad'
    code, out, err, _ = vcc('score', truth, '--real', truth, cwd=d)   # 2025: the rules and the reference they reproduce
    assert code == 0 and 'rules: 2025, reproducing cell-eval 0.6.6 + pdex 0.1.27' in out, out + err

def test_2026_train_on_public_screens(tmp_path):
    """vcc train --edition 2026 --screens takes several files, each read by the reader of its published layout (detected, or
    FILE:LAYOUT), written as tests/test_public_screens.py writes them; a file in no known layout, or a public screen given to
    vcc evaluate (which holds out cells), is one message naming the file, and leaves no run folder."""
    import anndata as ad
    from vcc.contexts import BundleFolder
    from vcc.public_screens import to_layout, write_published
    b = tmp_path/'bundle'
    code, out, err, _ = vcc('simulate', '--edition', '2026', '--size', 'tiny', '--out', b)
    assert code == 0, err
    cells = ad.read_h5ad(BundleFolder(b).screens)
    ctx = cells.obs['context'].astype(str).to_numpy()
    k562, jurkat = tmp_path/'K562_essential_raw_singlecell_01.h5ad', tmp_path/'jurkat_raw_singlecell_01.h5ad'
    write_published(to_layout(cells[ctx == sorted(set(ctx))[0]], 'replogle2022'), k562, 'replogle2022')
    write_published(to_layout(cells[ctx == sorted(set(ctx))[1]], 'nadig2025'), jurkat, 'nadig2025')
    code, out, err, _ = vcc('train', '--edition', '2026', '--data', b, '--model', 'additive', '--screens', k562, f'{jurkat}:nadig2025', '--runs', tmp_path/'runs')
    assert code == 0, err
    run = next((tmp_path/'runs').iterdir())
    read = json.loads((run/'config.json').read_text())['screens']
    assert [(r['layout'], r['contexts']) for r in read] == [('replogle2022', ['K562']), ('nadig2025', ['Jurkat'])], read
    odd = tmp_path/'odd.h5ad'
    ad.AnnData(cells.X[:5], obs={'guide': ['x'] * 5}).write_h5ad(odd)
    for argv, needle in ((['train', '--screens', k562, odd, '--runs', tmp_path/'runs2'], 'no screen layout vcc knows'),
                         (['evaluate', '--screens', k562, '--out', tmp_path/'board'], 'public screen (replogle2022 layout)')):
        code, out, err, _ = vcc(*argv[:1], '--edition', '2026', '--data', b, *argv[1:])
        assert code == 1 and needle in err and err.count('fix:') == 1, err
        no_traceback(err)
    assert not (tmp_path/'runs2').exists() or not any((tmp_path/'runs2').iterdir())
