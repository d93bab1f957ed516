# The main demo: VTDL (seed 002) pre-training of the small R3D on synthetic_motion's unlabeled
# stream, then a linear probe and kNN retrieval, against the random-init probe and a short
# supervised run from the same random init. Every stage reads residual frames (see the base).
# About 5 minutes on 2 CPU cores (the supervised reference is 12 epochs to keep it so).
_base_ = ['_base_/synthetic_motion.py']

# "BA": rotation ±10°, random resized crop and colour jitter, clip-consistent
_ssl_view = dict(
    clip_len=9,
    stride=2,
    residual=True,
    size=32,
    crop='random_resized',
    scale=(0.5, 1.0),
    rotation=10.0,
    color_jitter=[0.4, 0.4, 0.4],
    grayscale=0.2,
)
_unlabeled = dict(type='synthetic_motion', split='unlabeled', view=_ssl_view, unlabeled_size=2000)

custom_hooks = [dict(type='metrics_plot')]
stages = [
    {{_base_._probe_random_res}},
    dict(
        name='pretrain',
        type='train',
        dataset=_unlabeled,
        method=dict(type='vtdl', queue_size=2048, momentum=0.99, temporal_negative=True, tca=True),
        optimizer=dict(type='Adam', lr=1e-3, weight_decay=1e-5, paramwise=dict(no_decay=['bn'])),
        scheduler=dict(type='WarmupCosine', warmup_iters=30),
        epochs=8,
    ),
    {{_base_._probe_res}},
    dict(
        name='retrieval',
        type='evaluate',
        val_dataset={{_base_._test_res}},
        evaluator=dict(type='retrieval', train_dataset={{_base_._train_res}}),
    ),
    dict(
        name='supervised',
        type='train',
        init_from='probe_random',
        dataset={{_base_._train_res}},
        val_dataset={{_base_._test_res}},
        method=dict(type='supervised', num_classes=10, dropout=0.5),
        optimizer=dict(type='Adam', lr=1e-3, weight_decay=1e-5),
        scheduler=dict(type='WarmupCosine', warmup_iters=50),
        epochs=12,
    ),
]
