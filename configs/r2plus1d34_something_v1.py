# Seed 001: R(2+1)D-34 supervised on Something-Something V1 (174 classes; 16 frames at rate 2,
# 112x112; no horizontal flip: it would swap "left" and "right" classes), then the
# 10-clip x 3-crop test with softmax scores averaged.
_base_ = ['_base_/seed001_recipe.py', '_base_/something_v1.py']
_train_view = dict(clip_len=16, stride=2, size=112, crop='multiscale', scales={{_base_._scales}})
_val_view = dict(clip_len=16, stride=2, size=112, resize=112, sampler='center', crop='center')
_test_view = dict(clip_len=16, stride=2, size=112, resize=112, sampler='uniform', num_clips=10, crop='three')
backbone = dict(type='r2plus1d', depth=34)
stages = [
    dict(
        name='train',
        type='train',
        dataset=dict(
            type='something_v1',
            root={{_base_._ssv1_root}},
            labels={{_base_._ssv1_labels}},
            annotation={{_base_._ssv1_train}},
            view=_train_view,
        ),
        val_dataset=dict(
            type='something_v1',
            root={{_base_._ssv1_root}},
            labels={{_base_._ssv1_labels}},
            annotation={{_base_._ssv1_val}},
            view=_val_view,
        ),
        method=dict(type='supervised', num_classes=174, dropout=0.5),
        optimizer={{_base_._optimizer}},
        scheduler={{_base_._scheduler}},
        epochs=100,
        val_interval=1,
    ),
    dict(
        name='test',
        type='evaluate',
        init_from='train',
        method=dict(type='supervised', num_classes=174),
        val_dataset=dict(
            type='something_v1',
            root={{_base_._ssv1_root}},
            labels={{_base_._ssv1_labels}},
            annotation={{_base_._ssv1_val}},
            view=_test_view,
        ),
        batch_size=4,
        evaluator=dict(type='classification', average='softmax', report=True),
    ),
]
