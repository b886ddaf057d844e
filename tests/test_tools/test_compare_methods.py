"""tools/analysis_tools/compare_methods.py end to end at test scale, and its table."""
import json

import pytest

from tests.conftest import ROOT, load_tool, run_tool

RANDOM_CLIMS = 'configs/toy/clims_r18-tiny-d8_clip-tiny_1xb8-1k_toy-112x112.py'


def test_default_rows_are_the_toy_configs_that_declare_toy_compare():
    tool = load_tool('tools/analysis_tools/compare_methods.py')
    found = tool.method_configs()
    assert 'configs/toy/clims_r18-tiny-d8_toy-clip_1xb8-1k_toy-112x112.py' in found
    assert RANDOM_CLIMS not in found  # the random-teacher twin is for mechanics, not a method row
    assert tool.row_spec('configs/toy/clims_r18-tiny-d8_toy-clip_1xb8-1k_toy-112x112.py')['init'] == 'cam'


def test_table_reports_mean_and_std_over_seeds():
    tool = load_tool('tools/analysis_tools/compare_methods.py')
    res = {'seed 0': {'CAM': dict(cam_miou=40.0, object_recall=0.5)},
           'seed 1': {'CAM': dict(cam_miou=44.0, object_recall=0.7)}}
    md = tool.table(res)
    assert '| CAM | 42.00 ± 2.00 | - | - | 0.600 ± 0.100 | - | - |' in md
    assert '| CAM | 40.00 |' in tool.table({'seed 0': res['seed 0']})


def test_merge_joins_runs_of_other_seeds_and_rows(tmp_path):
    """--merge: seeds and rows from separate runs in one table (a cell over the seeds that have it), no training;
    a row two runs give for one seed is kept once if its figures agree and refused if not."""
    a, b = tmp_path / 'a', tmp_path / 'b'
    for d, res in ((a, {'seed 0': {'CAM': dict(cam_miou=40.0), 'X': dict(cam_miou=30.0)}}),
                   (b, {'seed 1': {'CAM': dict(cam_miou=44.0), 'X': dict(cam_miou=34.0)},
                        'seed 0': {'Y': dict(cam_miou=50.0)}})):
        d.mkdir()
        (d / 'results.json').write_text(json.dumps(res))
    out = tmp_path / 'm'
    tool = load_tool('tools/analysis_tools/compare_methods.py')
    tool.main(['--merge', str(a), str(b), '--out', str(out)])
    merged = json.loads((out / 'results.json').read_text())
    assert list(merged) == ['seed 0', 'seed 1'] and sorted(merged['seed 0']) == ['CAM', 'X', 'Y']
    md = (out / 'results.md').read_text()
    assert '| CAM | 42.00 ± 2.00 |' in md and '| X | 32.00 ± 2.00 |' in md and '| Y | 50.00 |' in md
    assert (out / 'results.png').stat().st_size > 0
    assert tool.merge_results([str(a), str(a)]) == tool.merge_results([str(a)])  # reproduced rows: one
    c = tmp_path / 'c'
    c.mkdir()
    (c / 'results.json').write_text(json.dumps({'seed 0': {'CAM': dict(cam_miou=41.0), 'X': dict(cam_miou=30.0)}}))
    with pytest.raises(ValueError, match=r"seed 0 rows \['CAM'\] differ"):
        tool.merge_results([str(a), str(c)])


def test_refiner_rows_come_after_their_seeds():
    tool = load_tool('tools/analysis_tools/compare_methods.py')
    weakclip = 'configs/toy/weakclip_toy-clip_1xb8-1k_toy-112x112.py'
    assert weakclip in tool.method_configs() and tool.row_spec(weakclip)['seeds'] == 'CAM'
    rows = [dict(name='W', seeds='CAM'), dict(name='CAM', seeds=None), dict(name='X')]
    assert [r['name'] for r in tool.order_rows(rows)] == ['CAM', 'X', 'W']
    with pytest.raises(ValueError, match="seeds of 'ECA'"):
        tool.order_rows([dict(name='W', seeds='ECA'), dict(name='CAM')])
    # --refine-seeds: one refiner row per named source, in that order; a refiner is not a source
    rows = tool.order_rows([dict(name='W', seeds='CAM'), dict(name='CAM'), dict(name='C')], ['C', 'CAM'])
    assert [(r['name'], r.get('seeds')) for r in rows] == [('CAM', None), ('C', None), ('W', 'C'), ('W', 'CAM')]
    with pytest.raises(ValueError, match="seeds of 'W'"):
        tool.order_rows([dict(name='W', seeds='CAM'), dict(name='CAM')], ['W'])


def test_end_to_end_on_a_tiny_toy_set(tmp_path):
    """Every step as real tool runs, without the retraining (its wiring: the next test; the retraining itself is
    tools/train.py on a pseudo-label folder, run end to end in test_end_to_end.py)."""
    out = tmp_path / 'cmp'
    stem = 'clims_r18-tiny-d8_clip-tiny_1xb8-1k_toy-112x112'
    # WeakCLIP's toy row with a random toy-clip (the suite does not build toy teachers), refining the CLIMS row's
    # seeds instead of its declared CAM ones (--refine-seeds; several sources are ordered in the test above)
    weakclip = tmp_path / 'weakclip_random_clip.py'
    weakclip.write_text(f"_base_ = ['{ROOT}/configs/toy/weakclip_toy-clip_1xb8-1k_toy-112x112.py']\n"
                        "model = dict(backbone=dict(pretrained=None), encoders=dict(text=dict(pretrained=None)))\n"
                        "toy_compare = dict(name='WeakCLIP', seeds='CAM')\n")
    res = run_tool('tools/analysis_tools/compare_methods.py', str(weakclip), RANDOM_CLIMS, '--seeds', '3', '--iters', '2',
                   '--init-iters', '2', '--no-retrain', '--num-train', '8', '--num-val', '4',
                   '--workers', '0', '--refine-seeds', stem, '--out', str(out), timeout=900)
    results = json.load(open(out / 'results.json'))['seed 3']
    assert list(results) == ['all background', 'centre prior', 'CAM, shared start (2 it)', 'CAM (+2 it)',
                             f'{stem} (+2 it)', f'WeakCLIP on {stem} seeds (2 it)']
    assert 0 < results['centre prior']['cam_miou'] <= 100 and 0 < results['centre prior']['bg_thr'] < 1
    refined = results[f'WeakCLIP on {stem} seeds (2 it)']  # its pseudo masks on train, decoder on val
    assert set(refined) >= {'pseudo_miou', 'decoder_miou'} and not {'cam_miou', 'retrain_miou'} & set(refined)
    assert 0 <= refined['pseudo_miou'] <= 100
    # it was trained on the CLIMS row's (row 1) CRF pseudo labels, not on the CAM row's
    train_line, = [line for line in res.stdout.splitlines()
                   if line.startswith('$ ') and 'tools/train.py' in line and str(weakclip) in line]
    assert 'pseudo_label_dir=' + str(out / 'seed3' / 'row1' / 'pseudo_labels') in train_line
    for row in list(results)[3:5]:  # the CAM row and the CLIMS row
        r = results[row]
        assert set(r) >= {'cam_miou', 'bg_thr', 'context_as_foreground', 'object_recall', 'pseudo_miou'}
        assert 0 <= r['cam_miou'] <= 100 and 0 <= r['context_as_foreground'] <= 1 and 'retrain_miou' not in r
    assert not any('retrain' in line for line in res.stdout.splitlines() if line.startswith('$ '))
    assert (out / 'results.png').stat().st_size > 1000
    md = (out / 'results.md').read_text()
    assert '| all background |' in md and f'| {stem} (+2 it) |' in md and md in res.stdout
    # the toy set is the seed's own: regenerated under OUT with that seed
    assert json.load(open(out / 'seed3' / 'toy_voc' / 'meta.json'))['seed'] == 3


def _record_commands(tool, monkeypatch) -> list:
    """The tool's commands are recorded, not run: tools answer mIoU 12.5 (best threshold 0.5), logged metrics
    mIoU 33.0 / CAM mIoU 40.0 at 0.3, context 0.1 and recall 0.5, no online labels."""
    commands = []

    def fake_run(*cmd, capture=False, log=None):
        commands.append(cmd)
        return '{"mIoU": 12.5, "best_bg_thr": 0.5}\n' if capture else ''

    monkeypatch.setattr(tool, 'run', fake_run)
    monkeypatch.setattr(tool, 'read_logged_metrics', lambda work: {
        'mIoU': 33.0, 'cam/mIoU': 40.0, 'cam/best_bg_thr': 0.3})
    monkeypatch.setattr(tool, 'context_and_object', lambda labels, data: dict(context_as_foreground=0.1,
                                                                             object_recall=0.5))
    monkeypatch.setattr(tool, 'online_label_quality', lambda work: {})
    return commands


def test_retraining_is_wired_to_each_rows_crf_labels(monkeypatch):
    """With retraining on, a row without a decoder and a refiner row each retrain the toy DeepLabV3+ on their own
    CRF pseudo-label folder and test it on val; a row with a decoder does not retrain. The tool's commands are
    recorded, not run."""
    tool = load_tool('tools/analysis_tools/compare_methods.py')
    commands = _record_commands(tool, monkeypatch)
    args = tool.argparse.Namespace(retrain=True, retrain_iters=7, workers=0)
    monkeypatch.setattr(tool, 'has_decoder', lambda cfg: False)
    res = tool.measure('cam.py', 'ck.pth', 'W', 'D', args, None)
    assert res['retrain_miou'] == 33.0 and res['pseudo_miou'] == 12.5
    trains = [c for c in commands if c[0] == 'tools/train.py']
    assert len(trains) == 1 and trains[0][1] == tool.SEG_CFG and trains[0][3] == 'W/retrain'
    assert 'train_dataloader.dataset.pseudo_label_dir=W/pseudo_labels' in trains[0]
    assert 'train_cfg.max_iters=7' in trains[0]
    assert ('tools/test.py', tool.SEG_CFG, 'W/retrain/iter_7.pth') == commands[-1][:3]
    commands.clear()
    res = tool.measure_refiner('weakclip.py', 'ck.pth', 'R', 'D', args, None)
    assert res['retrain_miou'] == 33.0 and res['decoder_miou'] == 33.0
    trains = [c for c in commands if c[0] == 'tools/train.py']
    assert len(trains) == 1 and 'train_dataloader.dataset.pseudo_label_dir=R/pseudo_labels' in trains[0]
    commands.clear()
    monkeypatch.setattr(tool, 'has_decoder', lambda cfg: True)  # AFA / ECA: their own decoder, no retraining
    res = tool.measure('afa.py', 'ck.pth', 'A', 'D', args, None)
    assert 'retrain_miou' not in res and res['decoder_miou'] == 33.0
    assert not [c for c in commands if c[0] == 'tools/train.py']


def test_single_stage_rows_schedule_and_decoder_column():
    tool = load_tool('tools/analysis_tools/compare_methods.py')
    afa = 'configs/toy/afa_mit-tiny_1xb8-2k_toy-112x112.py'
    eca = 'configs/toy/eca_mit-tiny_toy-dino_1xb8-2k_toy-112x112.py'
    found = tool.method_configs()
    assert afa in found and eca in found and 'configs/toy/cam_mit-tiny_1xb32-2k_toy-112x112.py' not in found
    assert tool.row_spec(eca)['init'] is None  # a MiT: its own start (toy-mit), the same for AFA and ECA
    assert tool.has_decoder(eca) and not tool.has_decoder(tool.CAM_CFG)
    # the warm-up scheduler keeps its length; the main one ends with the run
    opts = tool.schedule(afa, 700, 'DATA')
    assert 'param_scheduler.1.end=700' in opts and not any(o.startswith('param_scheduler.0') for o in opts)
    assert 'param_scheduler.0.end=700' in tool.schedule(tool.CAM_CFG, 700, 'DATA')
    # a cosine after a warm-up spans the rest of the run; a run shorter than the warm-up halves it
    weakclip = 'configs/toy/weakclip_toy-clip_1xb8-1k_toy-112x112.py'
    assert {'param_scheduler.1.end=1000', 'param_scheduler.1.T_max=900'} <= set(tool.schedule(weakclip, 1000, 'D'))
    assert {'param_scheduler.0.end=1', 'param_scheduler.1.begin=1', 'param_scheduler.1.T_max=1'} <= set(
        tool.schedule(weakclip, 2, 'D'))


def test_variant_rows_carry_their_options_to_every_command(monkeypatch, tmp_path):
    """``--variant NAME CONFIG KEY=VALUE ...``: a row of CONFIG under NAME whose options reach its training (after
    the schedule's, so they may override it), its test and its pseudo-label commands, and no other row's. The
    tool's commands are recorded, not run."""
    tool = load_tool('tools/analysis_tools/compare_methods.py')
    dalnet = 'configs/toy/dalnet-frozenmask_toy-clip-dense_1xb8-2k_toy-112x112.py'
    row = tool.variant_spec(['beta 0.3', dalnet, 'model.pseudo_labels.object_mask.beta=0.3',
                             'param_scheduler.1.end=2000'])
    assert row['name'] == 'beta 0.3' and row['init'] is None and row['config'] == dalnet
    for bad in (['only-a-name'], ['n', dalnet, 'not-an-option']):
        with pytest.raises(ValueError, match='--variant takes NAME CONFIG'):
            tool.variant_spec(bad)
    commands = _record_commands(tool, monkeypatch)
    args = tool.argparse.Namespace(retrain=False, retrain_iters=7, workers=0, iters=5, init_iters=3,
                                   num_train=8, num_val=4, out=str(tmp_path / 'cmp'))
    rows = tool.order_rows([dict(name='CAM', config=tool.CAM_CFG, init='cam'), row])
    results = tool.one_seed(0, rows, args)
    assert 'beta 0.3 (8 it)' in results and results['beta 0.3 (8 it)']['cam_miou'] == 40.0
    assert results['centre prior'] == dict(cam_miou=12.5, bg_thr=0.5)
    ours = [c for c in commands if dalnet in c]
    assert {c[0] for c in ours} == {'tools/train.py', 'tools/test.py', 'tools/make_pseudo_labels.py',
                                    'tools/analysis_tools/eval_pseudo_labels.py'}
    for c in ours:
        assert 'model.pseudo_labels.object_mask.beta=0.3' in c
    train_cmd, = [c for c in ours if c[0] == 'tools/train.py']
    assert 'train_cfg.max_iters=8' in train_cmd  # the schedule first, the variant's override after it
    assert train_cmd.index('param_scheduler.1.end=8') < train_cmd.index('param_scheduler.1.end=2000')
    assert not any('model.pseudo_labels.object_mask.beta=0.3' in c for c in commands if dalnet not in c)
    with pytest.raises(ValueError, match='two rows share a name'):
        tool.main(['--variant', 'a', dalnet, '--variant', 'a', dalnet, '--out', str(tmp_path / 'dup')])
    assert not (tmp_path / 'dup').exists()
