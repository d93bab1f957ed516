# Seed 001: supervised training on hmdb51 (16 frames at rate 4, 112x112), then the
# 10-clip x 3-crop test with softmax scores averaged.
_base_ = ['_base_/seed001_recipe.py', '_base_/hmdb51.py']
_train_view = dict(clip_len=16, stride=4, size=112, crop='multiscale', scales={{_base_._scales}}, flip=0.5)
_val_view = dict(clip_len=16, stride=4, size=112, resize=112, sampler='center', crop='center')
_test_view = dict(clip_len=16, stride=4, size=112, resize=112, sampler='uniform', num_clips=10, crop='three')
backbone = dict(type='r2plus1d', depth=34)
stages = [
    dict(
        name='train',
        type='train',
        dataset=dict(
            type='hmdb51',
            root={{_base_._hmdb_root}},
            annotation_dir={{_base_._hmdb_lists}},
            subset='train',
            view=_train_view,
        ),
        val_dataset=dict(
            type='hmdb51',
            root={{_base_._hmdb_root}},
            annotation_dir={{_base_._hmdb_lists}},
            subset='test',
            view=_val_view,
        ),
        method=dict(type='supervised', num_classes=51, dropout=0.5),
        optimizer={{_base_._optimizer}},
        scheduler={{_base_._scheduler}},
        epochs=100,
        val_interval=1,
    ),
    dict(
        name='test',
        type='evaluate',
        init_from='train',
        method=dict(type='supervised', num_classes=51),
        val_dataset=dict(
            type='hmdb51',
            root={{_base_._hmdb_root}},
            annotation_dir={{_base_._hmdb_lists}},
            subset='test',
            view=_test_view,
        ),
        batch_size=4,
        evaluator=dict(type='classification', average='softmax', report=True),
    ),
]
