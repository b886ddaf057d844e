# Ablation of the toy flagship: without ECA's CARM. The decoder learns from DALNet's own decoder labels instead
# (ToCo's: the patch-text CAMs at 1.0 / 0.5 / 1.5 + flip, PAR, background <= 0.25, (0.25, 0.7] ignored: the toy
# DALNet's `cam` source); everything else, the start and the iterations are the flagship's. The DINO encoder stays
# built (nothing reads it).
#   python tools/analysis_tools/compare_methods.py \
#     projects/clip_dino/configs/ablations/clipdino-camlabels_toy-clip-dense_toy-dino_1xb8-2k_toy-112x112.py --seeds 0 --no-retrain
_base_ = ['../clipdino_toy-clip-dense_toy-dino_1xb8-2k_toy-112x112.py']
model = dict(
    pseudo_labels=dict(
        carm=None,
        cam=dict(type='CAMPseudoLabel', high_thr=0.7, low_thr=0.25, scales=(1.0, 0.5, 1.5), flip=True, norm='max',
                 refine=dict(type='PAR', dilations=(1, 2, 4, 8), num_iter=10, w1=0.3, w2=0.01), refine_scale=0.5)),
    losses=dict(seed=dict(labels='cam')))
toy_compare = dict(name='flagship without CARM (decoder on CAM labels)', init=None)
