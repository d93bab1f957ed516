# VTDL (seed 002) on hmdb51 with the I3D backbone: pre-training, fine-tuning, multi-clip test.
# pretrain: shuffle_bn is the seed's Shuffle-BN under DDP (identity in one process); global_batch is
# the seed's batch (a warning names the difference when processes × batch × accumulate differ)
_base_ = ['_base_/vtdl_recipe.py', '_base_/hmdb51.py']
stages = [
    dict(
        name='pretrain',
        type='train',
        batch_size=16,
        global_batch=16,
        epochs=240,
        dataset=dict(
            type='hmdb51',
            root={{_base_._hmdb_root}},
            annotation_dir={{_base_._hmdb_lists}},
            subset='train',
            view={{_base_._ba_view}},
        ),
        method=dict(type='vtdl', shuffle_bn=True, queue_size=3569, temporal_negative=True, tca=True),
        optimizer={{_base_._pretrain_optimizer}},
        scheduler={{_base_._pretrain_scheduler}},
    ),
    dict(
        name='finetune',
        type='train',
        batch_size=4,
        epochs=45,
        dataset=dict(
            type='hmdb51',
            root={{_base_._hmdb_root}},
            annotation_dir={{_base_._hmdb_lists}},
            subset='train',
            view={{_base_._ft_view}},
        ),
        method=dict(type='supervised', num_classes=51, dropout=0.5),
        optimizer=dict(type='SGD', lr=1e-3, momentum=0.9, weight_decay=1e-8),
        scheduler={{_base_._finetune_scheduler}},
    ),
    dict(
        name='test',
        type='evaluate',
        init_from='finetune',
        batch_size=1,
        method=dict(type='supervised', num_classes=51),
        val_dataset=dict(
            type='hmdb51',
            root={{_base_._hmdb_root}},
            annotation_dir={{_base_._hmdb_lists}},
            subset='test',
            view={{_base_._test_view}},
        ),
        evaluator=dict(type='classification', average='softmax', report=True),
    ),
]
