# Supervised training of the small R3D on synthetic_motion, against a linear probe on the
# randomly initialised backbone (the baseline every SSL demo is compared with).
_base_ = ['_base_/synthetic_motion.py']

stages = [
    {{_base_._probe_random}},
    dict(
        name='supervised',
        type='train',
        dataset={{_base_._train}},
        val_dataset={{_base_._test}},
        method=dict(type='supervised', num_classes=10, dropout=0.5),
        optimizer=dict(type='Adam', lr=1e-3, weight_decay=1e-5, paramwise=dict(no_decay=['bn', 'bias'])),
        scheduler=dict(type='WarmupCosine', warmup_iters=50),
        epochs=30,
        val_interval=10,
    ),
]
