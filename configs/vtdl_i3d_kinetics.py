# VTDL (seed 002) pre-training on Kinetics-400 (queue 12500, batch 10) with the I3D backbone,
# pretrain: shuffle_bn is the seed's Shuffle-BN under DDP (identity in one process); global_batch is
# the seed's batch (a warning names the difference when processes × batch × accumulate differ)
# then fine-tuning and testing on UCF101 split 1.
_base_ = ['_base_/vtdl_recipe.py', '_base_/kinetics400.py', '_base_/ucf101.py']
stages = [
    dict(
        name='pretrain',
        type='train',
        batch_size=10,
        global_batch=10,
        epochs=240,
        dataset=dict(
            type='kinetics400',
            root={{_base_._k400_train_root}},
            annotation={{_base_._k400_train_csv}},
            view={{_base_._ba_view}},
        ),
        method=dict(type='vtdl', shuffle_bn=True, queue_size=12500, temporal_negative=True, tca=True),
        optimizer={{_base_._pretrain_optimizer}},
        scheduler={{_base_._pretrain_scheduler}},
    ),
    dict(
        name='finetune',
        type='train',
        batch_size=4,
        epochs=45,
        dataset=dict(
            type='ucf101',
            root={{_base_._ucf_root}},
            annotation_dir={{_base_._ucf_lists}},
            subset='train',
            view={{_base_._ft_view}},
        ),
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
        val_dataset=dict(
            type='ucf101',
            root={{_base_._ucf_root}},
            annotation_dir={{_base_._ucf_lists}},
            subset='test',
            view={{_base_._test_view}},
        ),
        evaluator=dict(type='classification', average='softmax', report=True),
    ),
]
