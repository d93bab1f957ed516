# Seed 000's recipe (pvtokmakov/video_cluster; spec section 1): R3D-18-B (kenshohara, 3x3x3 stem
# pool), 16 consecutive frames at 112x112. Pre-training view: multi-scale square crop
# (2^(-i/4), i=0..4), grayscale p 0.2, colour jitter 0.4, flip p 0.5, ActivityNet mean, std 1 on
# 0..1 pixels. Fine-tuning (3D-ResNets fork): SGD lr 0.1, momentum 0.9, dampening 0.9, weight
# decay 1e-3, ReduceLROnPlateau (patience 5) on the validation loss, scales {1, 0.8408}; test =
# 5 random 16-frame clips, centre crop, logits averaged.
_mean = [0.4501, 0.4225, 0.3901]  # [114.7748, 107.7354, 99.4750] / 255
_std = [1.0, 1.0, 1.0]
_pretrain_view = dict(
    clip_len=16,
    stride=1,
    size=112,
    crop='multiscale',
    scales=[1.0, 0.8408, 0.7071, 0.5946, 0.5],
    grayscale=0.2,
    color_jitter=[0.4, 0.4, 0.4],
    flip=0.5,
    mean=_mean,
    std=_std,
)
_finetune_view = dict(
    clip_len=16, stride=1, size=112, crop='multiscale', scales=[1.0, 0.8408], flip=0.5, mean=_mean, std=_std
)
_val_view = dict(
    clip_len=16, stride=1, size=112, resize=112, sampler='center', crop='center', mean=_mean, std=_std
)
_test_view = dict(
    clip_len=16,
    stride=1,
    size=112,
    resize=112,
    sampler='random',
    num_clips=5,
    crop='center',
    mean=_mean,
    std=_std,
)
# SGD lr 0.03, momentum 0.9, weight decay 1e-4 except parameters named "bn" (as the seed)
_pretrain_optimizer = dict(
    type='SGD', lr=0.03, momentum=0.9, weight_decay=1e-4, paramwise=dict(no_decay=['bn'])
)
_finetune_optimizer = dict(type='SGD', lr=0.1, momentum=0.9, dampening=0.9, weight_decay=1e-3)
_finetune_scheduler = dict(type='ReduceLROnPlateau', mode='min', patience=5, threshold=1e-4)
# Kaiming fan_in convolutions, as the seed's pre-training code (its fine-tuning code's fan_out
# is never used: fine-tuning starts from the pre-trained weights)
backbone = dict(type='r3d', depth=18, shortcut='B', stem_pool='3x3x3', init='seed000')
stage_defaults = dict(num_workers=8, evaluator=dict(type='classification', average='logits'))
