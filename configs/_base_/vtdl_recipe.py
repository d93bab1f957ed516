# VTDL (seed 002) recipe: pre-training with SGD lr 0.003 (x0.1 after epochs 120, 160, 200; 240
# epochs), 16-frame clips every 4th frame at 224x224 with the basic augmentation ("BA": rotation
# ±10°, resize 256 + random 224 crop, colour jitter); fine-tuning on 64 consecutive frames, lr
# x0.3 at epochs 10, 20, 25, 30, 35, 40 (45 epochs), weight decay 1e-8, dropout 0.5; test with
# 10 uniform clips, softmax averaged, mean per-class accuracy reported.
_ba_view = dict(
    clip_len=16,
    stride=4,
    size=224,
    resize=256,
    crop='multiscale',
    scales=[0.875],
    rotation=10.0,
    color_jitter=[0.5, 0.5, 0.25],
)
_ft_view = dict(
    clip_len=64,
    stride=1,
    size=224,
    resize=256,
    crop='multiscale',
    scales=[0.875],
    rotation=10.0,
    color_jitter=[0.5, 0.5, 0.25],
)
_test_view = dict(clip_len=64, stride=1, size=224, resize=256, sampler='uniform', num_clips=10, crop='center')
_pretrain_optimizer = dict(type='SGD', lr=0.003, momentum=0.9, weight_decay=1e-4)
_pretrain_scheduler = dict(type='MultiStepLR', milestones=[120, 160, 200], gamma=0.1)
_finetune_scheduler = dict(type='MultiStepLR', milestones=[10, 20, 25, 30, 35, 40], gamma=0.3)
backbone = dict(type='i3d')
stage_defaults = dict(num_workers=8)
