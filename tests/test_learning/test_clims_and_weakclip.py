"""CLIMS, WeakCLIP and DALNet (its frozen-mask variant) learn in the direction their READMEs report (main README,
*Method comparison on toy sets*, *WeakCLIP on the toy set*, *DALNet on the toy set*), against the plain CAM
network trained for the same iterations. One comparison run serves all three: the shared start, the CAM row, the
CLIMS row (from the shared start), DALNet (its own start, toy-clip-dense, as many iterations as start + CAM row)
and WeakCLIP trained on the CAM row's dense-CRF pseudo labels."""
import pytest

from tests.test_learning.conftest import compare, needs_teachers

CLIMS = 'configs/toy/clims_r18-tiny-d8_toy-clip_1xb8-1k_toy-112x112.py'
WEAKCLIP = 'configs/toy/weakclip_toy-clip_1xb8-1k_toy-112x112.py'
DALNET = 'configs/toy/dalnet-frozenmask_toy-clip-dense_1xb8-2k_toy-112x112.py'
pytestmark = [pytest.mark.learning, needs_teachers(CLIMS, DALNET, WEAKCLIP)]
ITERS = 1000  # the READMEs' schedule: WeakCLIP's masks did not beat their seeds after 500 (README, Tests)


@pytest.fixture(scope='module')
def rows(tmp_path_factory):
    out = str(tmp_path_factory.mktemp('learning') / 'clims_weakclip')
    return compare(out, CLIMS, DALNET, WEAKCLIP, '--init-iters', str(ITERS), '--iters', str(ITERS))


@pytest.mark.timeout(2 * 3600)
def test_cam_baseline_beats_the_centre_prior(rows):
    """The baseline every other row is read against localises: its CAMs beat what knowing the labels and the
    middle of the image gives (README: 43.49 against 22.54 over seeds 0-2) by a real margin."""
    assert rows[f'CAM (+{ITERS} it)']['cam_miou'] > rows['centre prior']['cam_miou'] + 8


@pytest.mark.timeout(2 * 3600)
def test_clims_calls_less_context_foreground_than_the_cam_network(rows):
    """CLIMS's co-occurrence term (BTM / CBS against "water", "rails", "grass" prompts) takes the co-occurring
    context out of the CAMs: README, 2 to 5 times less context as foreground on every seed (0.158 against 0.435).
    Its CAMs still localise the objects (above the centre prior); the README's other half (CAM mIoU above the CAM
    network's) is seed-dependent there and not asserted."""
    cam, clims = rows[f'CAM (+{ITERS} it)'], rows[f'CLIMS (toy-clip) (+{ITERS} it)']
    assert clims['context_as_foreground'] < 0.75 * cam['context_as_foreground']
    assert clims['cam_miou'] > rows['centre prior']['cam_miou'] + 5


@pytest.mark.timeout(2 * 3600)
def test_weakclip_masks_beat_their_seeds(rows):
    """WeakCLIP's central claim (69.1 -> 77.2 on VOC), as the README reports it on every toy seed: its pseudo
    masks (the decoder's predictions, image labels applied, dense CRF) beat the CRF pseudo labels it was trained
    on (by 4.3 to 9.3 points over seeds 0-2 and two seed sources); its decoder learns (above all-background)."""
    seeds = rows[f'CAM (+{ITERS} it)']
    weakclip = rows[f'WeakCLIP (toy-clip) on CAM seeds ({ITERS} it)']
    assert weakclip['pseudo_miou'] > seeds['pseudo_miou'] + 2
    assert weakclip['decoder_miou'] > rows['all background']['retrain_miou'] + 15


@pytest.mark.timeout(2 * 3600)
def test_dalnet_calls_less_context_foreground_than_the_cam_network(rows):
    """DALNet's claim "co-occurring context down" as the README reports it for the frozen-mask variant: less
    context as foreground than the CAM network's on every seed (0.279 against 0.435 over seeds 0-2); its CAMs and
    its decoder learn (above the centre prior; above all-background)."""
    cam = rows[f'CAM (+{ITERS} it)']
    dalnet = rows[f'DALNet, frozen mask (toy-clip-dense) ({2 * ITERS} it)']
    assert dalnet['context_as_foreground'] < 0.85 * cam['context_as_foreground']
    assert dalnet['cam_miou'] > rows['centre prior']['cam_miou'] + 5
    assert dalnet['decoder_miou'] > rows['all background']['retrain_miou'] + 15
