# MLFO (seed 003) on synthetic_motion's unlabeled stream with the small R3D (1x3x3 stem pool, as
# MLFO's R3D): every video gives an 18-frame span at a random rate in [1, 3] (capped by the
# 24-frame videos), cut into two 9-frame halves and an every-2nd-frame global clip, each with its
# own crop, colour jitter and grayscale, read as residual frames (8 differences each; see the
# base). Colour is jittered per clip, not per frame as in the seed: a per-frame jitter would not
# cancel in the differences. Schedule scaled down for 2 CPU cores (16 epochs, prototype queue
# from epoch 4, graph constraint from epoch 8, lr ×0.1 at 12, 30 prototypes); linear probe
# against the random-init probe. No flips: they change the class of this dataset.
_base_ = ['_base_/synthetic_motion.py']

_mlfo_view = dict(
    clip_len=9,
    residual=True,
    size=32,
    crop='random_resized',
    scale=(0.5, 1.0),
    color_jitter=[0.5, 0.5, 0.5],
    grayscale=0.5,
)
custom_hooks = [dict(type='metrics_plot')]
stages = [
    {{_base_._probe_random_res}},
    dict(
        name='pretrain',
        type='train',
        dataset=dict(type='synthetic_motion', split='unlabeled', view=_mlfo_view, unlabeled_size=2000),
        method=dict(type='mlfo', num_prototypes=30, steps=[4, 2, 2], queue_size=256, queue_epoch=4, split=8),
        optimizer=dict(type='Adam', lr=1e-3, weight_decay=1e-5),
        scheduler=dict(type='MultiStepLR', milestones=[12], gamma=0.1),
        epochs=16,
    ),
    {{_base_._probe_res}},
    dict(
        name='retrieval',
        type='evaluate',
        val_dataset={{_base_._test_res}},
        evaluator=dict(type='retrieval', train_dataset={{_base_._train_res}}),
    ),
]
