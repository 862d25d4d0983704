"Fast checks of training runs in `vcc.train`: resume to the same result, determinism from the seed, clear errors."
import json
import numpy as np, pytest
from vcc.train import train_run, resume_run, load_run, build_model, load_training, REGISTRY
from vcc.models import LinearModel
from vcc.data import DataError

SMALL = {'simulate': dict(n_genes=300, n_train=16, n_val=4, n_test=1, n_control=300, cells_per_pert=40, seed=2)}
TORCH = dict(n_genes=64, hidden=16, set_size=16, epochs=3, cells=True)
GENES = ['G_UNSEEN']

class Killed(Exception): pass

def _kill_at(epoch):
    def cb(m):
        if m.epoch_ == epoch: raise Killed
    return cb

def test_closed_form_run_roundtrip(tmp_path):
    run = train_run('linear', {'n_components': 4}, SMALL, runs_dir=tmp_path)
    assert {p.name for p in run.iterdir()} == {'config.json', 'history.json', 'checkpoint.pt', 'report.md', 'state.json'}
    _, ts = load_training(SMALL)
    genes = GENES + ts.perts[:2]
    np.testing.assert_array_equal(load_run(run).predict_pseudobulk(genes), LinearModel(n_components=4).fit(ts).predict_pseudobulk(genes))

def test_torch_resume_and_seed(tmp_path):
    straight = load_run(train_run('cell_transition', TORCH, SMALL, runs_dir=tmp_path/'a', seed=0))
    with pytest.raises(Killed): train_run('cell_transition', TORCH, SMALL, runs_dir=tmp_path/'b', seed=0, callbacks=[_kill_at(1)])
    killed = next((tmp_path/'b').iterdir())
    assert json.loads((killed/'checkpoint.pt').exists() and (killed/'history.json').read_text())[-1]['epoch'] == 1
    resumed = resume_run(killed)
    for k, v in straight.net_.state_dict().items(): np.testing.assert_array_equal(resumed.net_.state_dict()[k].numpy(), v.numpy())
    genes = GENES + resumed.train_.perts[:2]
    np.testing.assert_array_equal(resumed.predict_pseudobulk(genes), straight.predict_pseudobulk(genes))
    other = load_run(train_run('cell_transition', TORCH, SMALL, runs_dir=tmp_path/'c', seed=1))
    assert np.abs(other.predict_pseudobulk(genes) - straight.predict_pseudobulk(genes)).max() > 0

def test_errors(tmp_path):
    (tmp_path/'run').mkdir(); (tmp_path/'run'/'config.json').write_text('{"model": "linear", "params": {}, "data": "x", "seed": 0}')
    with pytest.raises(DataError, match='checkpoint.pt: not there'): load_run(tmp_path/'run')
    with pytest.raises(KeyError, match='unknown model'): build_model('nope')
    assert {'linear', 'cell_transition', 'ensemble'} <= set(REGISTRY)
