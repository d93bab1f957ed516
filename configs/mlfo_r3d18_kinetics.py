# MLFO (seed 003) pre-training on Kinetics-400 (K 1000, 100 epochs, lr decay at 70, graph from epoch 20),
# then the CoCLR-style linear probe, fine-tuning (backbone at lr/10) and retrieval on UCF101
# split 1. Without the datasets it stops at once with the preparation hint.
_base_ = ['_base_/mlfo_recipe.py', '_base_/kinetics400.py']
stages = [
    dict(
        name='pretrain',
        type='train',
        sync_bn=True,
        epochs=100,
        dataset=dict(
            type='kinetics400',
            root={{_base_._k400_train_root}},
            annotation={{_base_._k400_train_csv}},
            view={{_base_._pretrain_view}},
        ),
        method=dict(type='mlfo', num_prototypes=1000, split=20),
        optimizer={{_base_._pretrain_optimizer}},
        scheduler=dict(type='MultiStepLR', milestones=[70], gamma=0.1),
    ),
    {{_base_._probe_ucf}},
    {{_base_._finetune_ucf}},
    {{_base_._retrieval_ucf}},
]
