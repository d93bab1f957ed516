# Seed 001's training recipe and test (video action recognition models; spec section 2), here from
# the given weights: R(2+1)D-34, 100 epochs of SGD lr 0.01 (momentum 0.9, dampening 0.9, weight
# decay 1e-4, ReduceLROnPlateau on the validation loss), batch 32, 16 frames every 4th at 112 px,
# multi-scale crops and flips; tested per video: 10 uniform clips x 3 crops, softmax averaged.
_base_ = ['../_base_/seed001_recipe.py', '../_base_/ucf101.py']
protocol = dict(
    name='finetune_seed001', dataset='ucf101', datasets=['ucf101', 'hmdb51', 'kinetics400', 'something_v1']
)
backbone = dict(type='r2plus1d', depth=34)
_train_view = dict(clip_len=16, stride=4, size=112, crop='multiscale', scales={{_base_._scales}}, flip=0.5)
_val_view = dict(clip_len=16, stride=4, size=112, resize=112, sampler='center', crop='center')
_test_view = dict(clip_len=16, stride=4, size=112, resize=112, sampler='uniform', num_clips=10, crop='three')
_ucf = dict(type='ucf101', root={{_base_._ucf_root}}, annotation_dir={{_base_._ucf_lists}})
stages = [
    dict(
        name='finetune',
        type='train',
        epochs=100,
        val_interval=1,
        dataset=dict(_ucf, subset='train', view=_train_view),
        val_dataset=dict(_ucf, subset='test', view=_val_view),
        method=dict(type='supervised', num_classes=101, dropout=0.5),
        optimizer={{_base_._optimizer}},
        scheduler={{_base_._scheduler}},
    ),
    dict(
        name='test',
        type='evaluate',
        init_from='finetune',
        batch_size=4,
        method=dict(type='supervised', num_classes=101),
        val_dataset=dict(_ucf, subset='test', view=_test_view),
        evaluator=dict(type='classification', average='softmax', report=True),
    ),
]
