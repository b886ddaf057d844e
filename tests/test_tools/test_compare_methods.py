"""tools/analysis_tools/compare_methods.py end to end at test scale, and its table."""
import json

from tests.conftest import load_tool, run_tool

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


def test_end_to_end_on_a_tiny_toy_set(tmp_path):
    out = tmp_path / 'cmp'
    res = run_tool('tools/analysis_tools/compare_methods.py', RANDOM_CLIMS, '--seeds', '3', '--iters', '2',
                   '--init-iters', '2', '--retrain-iters', '2', '--num-train', '8', '--num-val', '4',
                   '--workers', '0', '--out', str(out), timeout=900)
    results = json.load(open(out / 'results.json'))['seed 3']
    stem = 'clims_r18-tiny-d8_clip-tiny_1xb8-1k_toy-112x112'
    assert list(results) == ['all background', 'CAM, shared start (2 it)', 'CAM (+2 it)', f'{stem} (+2 it)']
    for row in list(results)[2:]:
        r = results[row]
        assert set(r) >= {'cam_miou', 'bg_thr', 'context_as_foreground', 'object_recall', 'pseudo_miou',
                          'retrain_miou'}
        assert 0 <= r['cam_miou'] <= 100 and 0 <= r['context_as_foreground'] <= 1
    assert (out / 'results.png').stat().st_size > 1000
    md = (out / 'results.md').read_text()
    assert '| all background |' in md and f'| {stem} (+2 it) |' in md and md in res.stdout
    # the toy set is the seed's own: regenerated under OUT with that seed
    assert json.load(open(out / 'seed3' / 'toy_voc' / 'meta.json'))['seed'] == 3


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
