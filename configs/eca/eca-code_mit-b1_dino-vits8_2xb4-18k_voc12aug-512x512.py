# ECA on VOC with every choice of the official code where it differs from the paper (configs/eca/README.md):
# staged schedule (<= 2k classification; then CARM seg + affinity; from 4k also CAM seg + correspondence; CAM
# labels propagated along the learnt affinity from 6k), the affinity loss on both CARM and CAM labels, the
# masked-cosine correspondence loss with grayscale views, the code's CARM (0.45 seed background, round(k n) + 1
# seeds, classes of the CAM label, binary foreground gate, calibration S^1.5 only for >= 2 classes without
# renormalisation, prototypes from the top-8 calibrated positions, background clipped to [0.1, 0.6]) and the
# bg/fg-balanced segmentation CE.
_base_ = ['./eca_mit-b1_dino-vits8_2xb4-18k_voc12aug-512x512.py']
model = dict(
    decode_head=dict(loss_decode=dict(_delete_=True, type='BgFgBalancedCrossEntropyLoss')),
    pseudo_labels=dict(
        cam=dict(affinity='affinity', affinity_start_iter=6000),
        carm=dict(seed_bg=0.45, seed_count='code', classes='cam_label', fg_mode='binary', fg_gate_thr=-0.5,
                  calib_power=1.5, calib_renorm=False, calib_min_classes=2, calib_norm_similarity=True,
                  proto_update='top', proto_top=8, bg_clip=(0.1, 0.6))),
    losses=dict(
        seg_carm=dict(start_iter=2000),
        aff=dict(labels=('carm', 'cam'), start_iter=2000),
        seg_cam=dict(start_iter=4000),
        corr=dict(form='code', grayscale_p=0.2, start_iter=4000)))
