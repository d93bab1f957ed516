# Seed 003's (MLFO) fine-tuning recipe and test (CoCLR protocol; spec section 4): R3D-18 from the
# given weights, 100 epochs of Adam lr 1e-3 (backbone x0.1, weight decay 1e-3, x0.1 at 60 and 80),
# batch 64, dropout 0.9, 16-frame clips (random resized 112 px crops of 128 px frames, flips,
# colour jitter); tested per video: 5 uniform clips, centre crop, softmax averaged.
_base_ = ['../_base_/mlfo_recipe.py']
protocol = dict(name='finetune_seed003', dataset='ucf101', datasets=['ucf101', 'hmdb51'])
_ucf = dict(type='ucf101', root={{_base_._ucf_root}}, annotation_dir={{_base_._ucf_lists}})
stages = [
    dict(
        name='finetune',
        type='train',
        epochs=100,
        dataset=dict(_ucf, subset='train', view={{_base_._train_view}}),
        val_dataset=dict(_ucf, subset='test', view={{_base_._test_view}}),
        method=dict(type='supervised', num_classes=101, dropout=0.9),
        optimizer={{_base_._finetune_optimizer}},
        scheduler={{_base_._eval_scheduler}},
    ),
]
