# Seed 000's fine-tuning recipe and test (pvtokmakov/video_cluster, 3D-ResNets fork; spec section
# 1): the whole network from the given weights but the stem and layer1 (ft_begin_index 2; on HMDB51
# 3, 30 epochs), 40 epochs of SGD lr 0.1 (momentum 0.9, dampening 0.9, weight decay 1e-3,
# ReduceLROnPlateau on the validation loss), batch 128, 16 consecutive frames at 112 px,
# multi-scale crops; tested per video: 5 random clips, centre crop, logits averaged.
_base_ = ['../_base_/seed000_recipe.py', '../_base_/ucf101.py']
protocol = dict(
    name='finetune_seed000',
    dataset='ucf101',
    datasets=['ucf101', 'hmdb51'],
    overrides=dict(hmdb51={'stages.0.epochs': 30, 'stages.0.method.ft_begin_index': 3}),
)
_ucf = dict(type='ucf101', root={{_base_._ucf_root}}, annotation_dir={{_base_._ucf_lists}})
stages = [
    dict(
        name='finetune',
        type='train',
        batch_size=128,
        epochs=40,
        val_interval=1,
        dataset=dict(_ucf, subset='train', view={{_base_._finetune_view}}),
        val_dataset=dict(_ucf, subset='test', view={{_base_._val_view}}),
        method=dict(type='supervised', num_classes=101, dropout=0.0, ft_begin_index=2),
        optimizer={{_base_._finetune_optimizer}},
        scheduler={{_base_._finetune_scheduler}},
    ),
    dict(
        name='test',
        type='evaluate',
        init_from='finetune',
        batch_size=8,
        method=dict(type='supervised', num_classes=101),
        val_dataset=dict(_ucf, subset='test', view={{_base_._test_view}}),
        evaluator=dict(type='classification', average='logits', report=True),
    ),
]
