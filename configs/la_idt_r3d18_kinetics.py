# Seed 000 (Tokmakov et al., "Unsupervised learning of video representations via dense
# trajectory clustering"): IDT Fisher-vector clusters of the Kinetics-400 training videos, IR
# warm-up (40 epochs), LA with the fixed IDT clusters (200 epochs), LA tuning with clusters of
# [memory bank ⊕ IDT features] recomputed every epoch (25 epochs); then fine-tuning on UCF101
# (ft_begin_index 2, 40 epochs) and HMDB51 (ft_begin_index 3, 30 epochs), each tested with
# 5 clips and averaged logits. Without the datasets it stops at once with the preparation hint.
_base_ = ['_base_/seed000_recipe.py', '_base_/kinetics400.py', '_base_/ucf101.py', '_base_/hmdb51.py']
_kinetics = dict(type='kinetics400', root={{_base_._k400_train_root}}, annotation={{_base_._k400_train_csv}})
_pretrain_data = dict(_kinetics, view={{_base_._pretrain_view}})
_ucf = dict(type='ucf101', root={{_base_._ucf_root}}, annotation_dir={{_base_._ucf_lists}})
_hmdb = dict(type='hmdb51', root={{_base_._hmdb_root}}, annotation_dir={{_base_._hmdb_lists}})
stages = [
    dict(
        name='idt',
        type='extract',
        dataset=_kinetics,
        extractor=dict(
            type='idt_clusters',
            mode='idt',
            samples_per_video=500,
            pca=0.9,
            gmm_components=256,
            sketch_dim=2000,
            k=6000,
            num_c=3,
        ),
    ),
    dict(
        name='ir',
        type='train',
        dataset=_pretrain_data,
        batch_size=128,
        epochs=40,
        rows_from='idt/kept_rows.npy',
        method=dict(type='instance_recognition'),
        optimizer={{_base_._pretrain_optimizer}},
    ),
    dict(
        name='la_idt',
        type='train',
        init_from='ir',
        init_method=True,
        dataset=_pretrain_data,
        rows_from='idt/kept_rows.npy',
        batch_size=256,
        epochs=200,
        method=dict(type='local_aggregation', clusters='file'),
        optimizer={{_base_._pretrain_optimizer}},
        scheduler=dict(type='MultiStepLR', milestones=[161, 191], gamma=0.1),
    ),
    dict(
        name='la_tune',
        type='train',
        init_from='la_idt',
        init_method=True,
        rows_from='idt/kept_rows.npy',
        dataset=_pretrain_data,
        batch_size=256,
        epochs=25,
        method=dict(type='local_aggregation', clusters='bank+features', k=6000, num_c=3),
        optimizer={{_base_._pretrain_optimizer}},
        scheduler=dict(type='MultiStepLR', milestones=[11, 21], gamma=0.1),
    ),
    dict(
        name='finetune_ucf101',
        type='train',
        init_from='la_tune',
        batch_size=128,
        epochs=40,
        dataset=dict(_ucf, subset='train', view={{_base_._finetune_view}}),
        val_dataset=dict(_ucf, subset='test', view={{_base_._val_view}}),
        val_interval=1,
        method=dict(type='supervised', num_classes=101, dropout=0.0, ft_begin_index=2),
        optimizer={{_base_._finetune_optimizer}},
        scheduler={{_base_._finetune_scheduler}},
    ),
    dict(
        name='test_ucf101',
        type='evaluate',
        init_from='finetune_ucf101',
        batch_size=8,
        method=dict(type='supervised', num_classes=101),
        val_dataset=dict(_ucf, subset='test', view={{_base_._test_view}}),
    ),
    dict(
        name='finetune_hmdb51',
        type='train',
        init_from='la_tune',
        batch_size=128,
        epochs=30,
        dataset=dict(_hmdb, subset='train', view={{_base_._finetune_view}}),
        val_dataset=dict(_hmdb, subset='test', view={{_base_._val_view}}),
        val_interval=1,
        method=dict(type='supervised', num_classes=51, dropout=0.0, ft_begin_index=3),
        optimizer={{_base_._finetune_optimizer}},
        scheduler={{_base_._finetune_scheduler}},
    ),
    dict(
        name='test_hmdb51',
        type='evaluate',
        init_from='finetune_hmdb51',
        batch_size=8,
        method=dict(type='supervised', num_classes=51),
        val_dataset=dict(_hmdb, subset='test', view={{_base_._test_view}}),
    ),
]
