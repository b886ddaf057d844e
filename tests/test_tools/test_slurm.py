"""tools/slurm_train.sh / slurm_test.sh: the srun command they build (a dry run: SRUN="echo srun")."""
import shlex

from tests.conftest import ROOT, TOY_CAM_CFG, load_tool, run_tool


def _dry_run(script, *args, **env):
    res = run_tool(script, *args, env=dict(SRUN='echo srun', PYTHON='python', **env))
    words = shlex.split(res.stdout.strip())
    assert words[0] == 'srun'
    return words


def test_slurm_train_builds_mmsegs_srun_command_and_train_py_parses_it():
    words = _dry_run('tools/slurm_train.sh', 'gpu', 'wsss-job', TOY_CAM_CFG, '--work-dir', 'w', '--cfg-options',
                     'train_cfg.max_iters=3', GPUS='16', SRUN_ARGS='--quotatype=auto --time=1:00:00')
    head = words[:words.index('python')]
    assert head == ['srun', '-p', 'gpu', '--job-name=wsss-job', '--gres=gpu:8', '--ntasks=16', '--ntasks-per-node=8',
                    '--cpus-per-task=5', '--kill-on-bad-exit=1', '--quotatype=auto', '--time=1:00:00']
    assert words[words.index('python') + 1] == '-u'
    script = words[words.index('python') + 2]
    assert script == f'{ROOT}/tools/train.py'
    args = load_tool('tools/train.py').parse_args(words[words.index('python') + 3:])
    assert args.config == TOY_CAM_CFG and args.launcher == 'slurm' and args.work_dir == 'w'
    assert args.cfg_options == {'train_cfg.max_iters': 3}


def test_slurm_test_passes_checkpoint_and_flags_and_needs_four_arguments():
    words = _dry_run('tools/slurm_test.sh', 'p', 'j', TOY_CAM_CFG, 'ck.pth', '--tta', '--crf', GPUS='2',
                     CPUS_PER_TASK='3')
    assert '--gres=gpu:2' in words and '--ntasks=2' in words and '--cpus-per-task=3' in words
    assert words[words.index('python') + 2] == f'{ROOT}/tools/test.py'
    args = load_tool('tools/test.py').parse_args(words[words.index('python') + 3:])
    assert (args.config, args.checkpoint, args.tta, args.crf, args.launcher) == (TOY_CAM_CFG, 'ck.pth', True, True,
                                                                                 'slurm')
    res = run_tool('tools/slurm_test.sh', 'p', 'j', TOY_CAM_CFG, check=False, env=dict(SRUN='echo srun'))
    assert res.returncode == 2 and res.stderr.strip().startswith('usage: bash tools/slurm_test.sh') and not res.stdout
