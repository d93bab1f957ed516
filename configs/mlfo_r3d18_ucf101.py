# MLFO (seed 003) pre-training on UCF101 split 1 (K 200, 300 epochs, lr decay at 200, graph
# from epoch 50),
# then the CoCLR-style linear probe, fine-tuning (backbone at lr/10) and retrieval on UCF101
# split 1. Without the datasets it stops at once with the preparation hint.
_base_ = ['_base_/mlfo_recipe.py']
stages = [
    dict(
        name='pretrain',
        type='train',
        sync_bn=True,
        epochs=300,
        dataset={{_base_._ucf_pretrain_data}},
        method=dict(type='mlfo', num_prototypes=200, split=50),
        optimizer={{_base_._pretrain_optimizer}},
        scheduler=dict(type='MultiStepLR', milestones=[200], gamma=0.1),
    ),
    {{_base_._probe_ucf}},
    {{_base_._finetune_ucf}},
    {{_base_._retrieval_ucf}},
]
