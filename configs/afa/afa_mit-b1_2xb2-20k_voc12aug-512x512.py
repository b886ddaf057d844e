# AFA on VOC trainaug (Ru et al., CVPR 2022; official launch: 2 GPUs x 2 images, crop 512, 20k iterations):
# bash tools/dist_train.sh configs/afa/afa_mit-b1_2xb2-20k_voc12aug-512x512.py 2
_base_ = [
    '../_base_/models/afa_mit-b1.py', '../_base_/datasets/voc12_wsss.py', '../_base_/default_runtime.py',
    '../_base_/schedules/schedule_afa_adamw.py', '../_base_/evaluators/seg_and_cam.py'
]
train_dataloader = dict(batch_size=2)
# the paper's total batch (2 GPUs x 2); on fewer GPUs keep it (README, "Fewer GPUs than the paper")
auto_scale_lr = dict(enable=False, base_batch_size=4)
