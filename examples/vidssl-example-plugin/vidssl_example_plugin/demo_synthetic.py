# The arrow_of_time demo on vidssl's embedded synthetic_motion (its entry in `vidssl-bench
# synthetic`): the random-init linear probe, 6 epochs of arrow-of-time pre-training on the
# unlabeled stream, the probe again. Residual frames, as vidssl's own SSL demos read them.
_view = dict(clip_len=9, stride=2, size=32, residual=True, crop='random_resized', scale=(0.6, 1.0))
_test_view = dict(clip_len=9, stride=2, size=32, residual=True, sampler='center', crop='center')
_root = '{data_root}/synthetic_motion'
_train = dict(type='synthetic_motion', split='train', root=_root, view=_view)
_test = dict(type='synthetic_motion', split='test', root=_root, view=_test_view)
_probe = dict(
    type='probe',
    dataset=_train,
    val_dataset=_test,
    method=dict(type='linear_probe', num_classes=10),
    optimizer=dict(type='Adam', lr=1e-2, weight_decay=1e-4),
    epochs=5,
)
backbone = dict(type='r3d', depth=18, width=0.25, stem_pool='1x3x3')
stage_defaults = dict(batch_size=32, num_workers=2, evaluator=dict(type='classification'))
stages = [
    dict(_probe, name='probe_random'),
    dict(
        name='pretrain',
        type='train',
        method=dict(type='arrow_of_time'),
        epochs=6,
        dataset=dict(type='synthetic_motion', split='unlabeled', root=_root, view=_view, unlabeled_size=2000),
        optimizer=dict(type='Adam', lr=1e-3, weight_decay=1e-5),
    ),
    dict(_probe, name='probe'),
]
