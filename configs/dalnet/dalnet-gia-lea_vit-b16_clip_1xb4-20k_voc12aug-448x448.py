# DALNet ablation on VOC: GIA + LEA, without the cross-contrastive loss (Eq. 6). The full model (+ cross-contrastive) is
# dalnet_vit-b16_clip_1xb4-20k_voc12aug-448x448.py; the component ablation's numbers are in the unread main paper.
_base_ = ['./dalnet_vit-b16_clip_1xb4-20k_voc12aug-448x448.py']
model = dict(losses=dict(cc=None))
