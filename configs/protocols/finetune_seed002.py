# Seed 002's (VTDL) fine-tuning recipe and test (spec section 3): I3D from the given weights, 45
# epochs of SGD lr 5e-4 (momentum 0.9, weight decay 1e-8, x0.3 at 10, 20, 25, 30, 35, 40), batch
# 4, 64 consecutive frames at 224 px with the basic augmentation, dropout 0.5; tested per video:
# 10 uniform 64-frame clips, centre crop, softmax averaged; mean per-class accuracy reported.
_base_ = ['../_base_/vtdl_recipe.py', '../_base_/ucf101.py']
protocol = dict(name='finetune_seed002', dataset='ucf101', datasets=['ucf101', 'hmdb51'])
_ucf = dict(type='ucf101', root={{_base_._ucf_root}}, annotation_dir={{_base_._ucf_lists}})
stages = [
    dict(
        name='finetune',
        type='train',
        batch_size=4,
        epochs=45,
        dataset=dict(_ucf, subset='train', view={{_base_._ft_view}}),
        method=dict(type='supervised', num_classes=101, dropout=0.5),
        optimizer=dict(type='SGD', lr=5e-4, momentum=0.9, weight_decay=1e-8),
        scheduler={{_base_._finetune_scheduler}},
    ),
    dict(
        name='test',
        type='evaluate',
        init_from='finetune',
        batch_size=1,
        method=dict(type='supervised', num_classes=101),
        val_dataset=dict(_ucf, subset='test', view={{_base_._test_view}}),
        evaluator=dict(type='classification', average='softmax', report=True),
    ),
]
