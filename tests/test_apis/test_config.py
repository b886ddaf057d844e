from mmseg_wsss.apis import load_config
from tests.conftest import TOY_CAM_CFG

LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader', 'train_eval_dataloader')


def test_one_data_root_key_moves_every_loader():
    cfg = load_config(TOY_CAM_CFG, {'data_root': '/elsewhere'})
    assert all(cfg[k].dataset.data_root == '/elsewhere' for k in LOADERS)
    # an explicit per-loader option still wins
    cfg = load_config(TOY_CAM_CFG, {'data_root': '/elsewhere', 'val_dataloader.dataset.data_root': '/val'})
    assert cfg.val_dataloader.dataset.data_root == '/val' and cfg.train_dataloader.dataset.data_root == '/elsewhere'
    # without the option nothing moves
    assert load_config(TOY_CAM_CFG).train_eval_dataloader.dataset.data_root == 'data/toy_voc'
