# DALNet ablation on VOC: GIA only (L_cls + lambda_i L_im + 0.1 L_seg), the first row of the component ablation.
# The full model (+ LEA + cross-contrastive) is
# dalnet_vit-b16_clip_1xb4-20k_voc12aug-448x448.py; the component ablation's numbers are in the unread main paper.
_base_ = ['./dalnet_vit-b16_clip_1xb4-20k_voc12aug-448x448.py']
model = dict(losses=dict(lea=None, cc=None))
