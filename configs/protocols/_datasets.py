# The datasets of the evaluation protocols (vidssl-eval --dataset NAME): each one's training and
# test sources (paths from the configs' _base_ files, under {data_root}), its number of classes,
# its official splits and, where its videos differ from the protocols' real-data input, the view
# keys that fit them. vidssl-eval swaps a protocol's default dataset for the one asked for: every
# dataset of the protocol that holds all keys of the default's `train` (or `test`) source gets the
# new dataset's source instead, keeping its view; `num_classes` follows; with --splits, `split`.
_base_ = [
    '../_base_/ucf101.py',
    '../_base_/hmdb51.py',
    '../_base_/kinetics400.py',
    '../_base_/something_v1.py',
]

ucf101 = dict(
    num_classes=101,
    splits=[1, 2, 3],
    train=dict(
        type='ucf101', root={{_base_._ucf_root}}, annotation_dir={{_base_._ucf_lists}}, subset='train'
    ),
    test=dict(type='ucf101', root={{_base_._ucf_root}}, annotation_dir={{_base_._ucf_lists}}, subset='test'),
)
hmdb51 = dict(
    num_classes=51,
    splits=[1, 2, 3],
    train=dict(
        type='hmdb51', root={{_base_._hmdb_root}}, annotation_dir={{_base_._hmdb_lists}}, subset='train'
    ),
    test=dict(
        type='hmdb51', root={{_base_._hmdb_root}}, annotation_dir={{_base_._hmdb_lists}}, subset='test'
    ),
)
kinetics400 = dict(
    num_classes=400,
    train=dict(type='kinetics400', root={{_base_._k400_train_root}}, annotation={{_base_._k400_train_csv}}),
    test=dict(
        type='kinetics400',
        root={{_base_._k400_val_root}},
        annotation={{_base_._k400_val_csv}},
        train_annotation={{_base_._k400_train_csv}},
    ),
)
something_v1 = dict(
    num_classes=174,
    train=dict(
        type='something_v1',
        root={{_base_._ssv1_root}},
        labels={{_base_._ssv1_labels}},
        annotation={{_base_._ssv1_train}},
    ),
    test=dict(
        type='something_v1',
        root={{_base_._ssv1_root}},
        labels={{_base_._ssv1_labels}},
        annotation={{_base_._ssv1_val}},
    ),
)
# the embedded dataset: 32x32 px, 24-frame videos, read at their own size, never flipped (a
# flip turns move_left into move_right)
synthetic_motion = dict(
    num_classes=10,
    train=dict(type='synthetic_motion', split='train', root='{data_root}/synthetic_motion'),
    test=dict(type='synthetic_motion', split='test', root='{data_root}/synthetic_motion'),
    view=dict(clip_len=8, stride=2, size=32, resize=None, flip=0.0),
)
