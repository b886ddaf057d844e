# ECA on the toy dataset: the AFA toy twin (same MiT, schedule, optimiser and start) plus ECA's parts with
# toy-dino, the DINO stand-in trained here (`make toy-teachers` writes data/toy_teachers/toy_dino.pth); it loads
# through the same DINOViTEncoder / checkpoint path as ViT-S/8. Paper defaults, scaled to the toy crop: local
# views of 56 px (256 of 512) read at a 14 x 14 grid (the official 64 x 64 is 4x the stride-16 logits; 14 is 2x
# the toy stride-8 logits: the pairwise JS grows with the grid to the fourth power and 28 x 28 cost 1.4 s/iter).
_base_ = ['./afa_mit-tiny_1xb8-2k_toy-112x112.py']
warm = 500
model = dict(
    encoders=dict(dino=dict(type='DINOViTEncoder', arch='toy-dino', checkpoint='data/toy_teachers/toy_dino.pth')),
    pseudo_labels=dict(
        cam=dict(affinity=None),
        carm=dict(
            type='CARMPseudoLabel',
            encoder='dino',
            seeds='cam',
            scales=(1.0, 0.5),
            top_k=0.3,
            # toy-only: toy-dino's keys are not DINO's. At ECA's 0.15 nearly every toy-dino key pair is "affine"
            # (precision 0.11 for a base rate of 0.07, recall 0.91), which turns every CARM into a near-constant
            # map. 0.75 is the threshold of best F1 for "same label" in toy-dino's own report on held-out corpus
            # scenes (data/toy_teachers/toy_dino_report.json: precision 0.53, recall 0.46), fixed before any
            # comparison was run; the real configs keep the paper's 0.15.
            gamma=0.75,
            memory=dict(num_classes=5, dim=64, momentum=0.99),
            refine=dict(type='PAR', dilations=(1, 2, 4, 8)),
            refine_scale=0.5)),
    losses=dict(
        _delete_=True,
        cls=dict(type='CAMClassificationLoss', weight=1.0),
        seg_cam=dict(type='DecodeLoss', labels='cam', weight=0.1, start_iter=warm),
        seg_carm=dict(type='DecodeLoss', labels='carm', weight=0.1, start_iter=warm),
        corr=dict(type='CAMCorrespondenceLoss', labels='cam', num_views=2, view_size=56, grid=14, form='js',
                  weight=0.1, start_iter=warm),
        aff=dict(type='AffinityFromAttentionLoss', affinity='affinity', radius=8, labels='carm', weight=0.1,
                 start_iter=warm)))
toy_compare = dict(name='ECA (toy-dino)', init=None)
