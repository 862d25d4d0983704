"The torch model through PyTorch Lightning: two CPU processes under DDP (gloo) train, agree and save a run; one process is deterministic per seed; nothing is left in the working folder."
import json, os
import numpy as np, pytest, torch
from vcc.data import simulate
from vcc.models import TrainingSet, CellTransitionModel
from vcc.train import train_run, load_run

SMALL = dict(n_genes=300, n_train=16, n_val=4, n_test=1, n_control=300, cells_per_pert=40, seed=3)
TORCH = dict(n_genes=64, hidden=16, set_size=16, epochs=3, perts_per_batch=4)

@pytest.fixture(scope='module')
def screen():
    scr = simulate(**SMALL)
    return scr, TrainingSet.from_adata(scr.training)

def _genes(scr): return scr.model.perts.query('split == "validation"').index.tolist()

def _weights_checksum(m): return float(sum(p.detach().double().abs().sum() for p in m.net_.parameters()))

def test_ddp_two_cpu_processes(screen, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    scr, train = screen
    env = dict(os.environ)
    m = CellTransitionModel(**TORCH, accelerator='cpu', devices=2, cells=scr.training).fit(train)
    assert len(m.rank_checksums_) == 2 and m.rank_checksums_[0] == m.rank_checksums_[1]     # both ranks hold the same weights
    assert m.rank_checksums_[0] == pytest.approx(_weights_checksum(m), rel=1e-12)              # and the caller got them
    assert [h['epoch'] for h in m.history_] == [1, 2, 3] and all(np.isfinite(h['loss']) for h in m.history_)
    one = CellTransitionModel(**TORCH, cells=scr.training).fit(train)   # what one process learns from the same seed
    assert m.history_[-1]['loss'] < m.history_[0]['loss'] or m.history_[-1]['pseudobulk_l1'] < one.history_[0]['pseudobulk_l1']
    pb = m.predict_pseudobulk(_genes(scr))
    assert pb.shape == (4, 300) and np.isfinite(pb).all() and np.abs(pb - one.predict_pseudobulk(_genes(scr))).max() > 0  # each rank saw half
    # through a run folder: rank 0 writes the checkpoints, the run loads back to the same model
    run = train_run('cell_transition', {**TORCH, 'accelerator': 'cpu', 'devices': 2}, {'simulate': SMALL}, runs_dir=tmp_path/'runs', seed=3)
    assert [h['epoch'] for h in json.loads((run/'history.json').read_text())] == [1, 2, 3]
    again = CellTransitionModel(**TORCH, accelerator='cpu', devices=2, seed=3).fit(TrainingSet.from_adata(simulate(**SMALL).training))
    np.testing.assert_array_equal(load_run(run).predict_pseudobulk(_genes(scr)), again.predict_pseudobulk(_genes(scr)))  # DDP is deterministic too
    assert sorted(p.name for p in tmp_path.iterdir()) == ['runs'] and dict(os.environ) == env   # no lightning_logs, environment as it was

def test_single_process_deterministic_per_seed(screen, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    scr, train = screen
    rng = torch.get_rng_state()
    a = CellTransitionModel(**TORCH, seed=0).fit(train).predict_pseudobulk(_genes(scr))
    np.testing.assert_array_equal(CellTransitionModel(**TORCH, seed=0).fit(train).predict_pseudobulk(_genes(scr)), a)
    assert np.abs(CellTransitionModel(**TORCH, seed=1).fit(train).predict_pseudobulk(_genes(scr)) - a).max() > 0
    assert torch.equal(torch.get_rng_state(), rng) and list(tmp_path.iterdir()) == []   # the caller's RNG untouched, nothing written

def test_one_trainer_setup(screen, tmp_path, monkeypatch):
    "The cell model and the 2026 learned transfer build their Lightning Trainer with one helper (`vcc.models._lightning_trainer`)."
    import anndata as ad, vcc.models as vm
    from vcc.contexts import context_adata
    from vcc.transfer import multi_context_screen, LearnedTransfer
    monkeypatch.chdir(tmp_path)
    scr, train = screen
    made, real = [], vm._lightning_trainer
    monkeypatch.setattr(vm, '_lightning_trainer', lambda *a, **k: made.append(real(*a, **k)) or made[-1])
    CellTransitionModel(**{**TORCH, 'epochs': 2}).fit(train)
    rc = multi_context_screen('programs', n_genes=200, n_perts=8, cells_per_pert=40, n_control=200, seed=0)
    LearnedTransfer(epochs=2).fit(ad.concat([context_adata(rc.screen, c) for c in rc.contexts[:3]], index_unique='-'))
    assert [t.max_epochs for t in made] == [2, 2] and all(t.logger is None and t.num_sanity_val_steps == 0 for t in made)
    assert [str(t.precision_plugin.precision) for t in made] == ['32-true', '32-true'] and list(tmp_path.iterdir()) == []
