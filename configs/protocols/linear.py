# Linear probe, the CoCLR protocol (as MLFO, seed 003, reports it): the backbone frozen and in eval
# mode, its pooled features L2-normalised -> BatchNorm1d -> linear, trained 100 epochs (Adam lr
# 1e-3, weight decay 1e-3, x0.1 at epochs 60 and 80, batch 64) on 16-frame clips (random resized
# 112 px crops of frames resized to 128, flips, colour jitter); tested per video: 5 uniformly
# spaced clips, centre crop, softmax scores averaged. `vidssl-eval SOURCE --protocol linear
# --dataset NAME` runs it on any of `datasets` (this file's own dataset is UCF101 split 1; run
# alone with vidssl-run it probes a random-init R3D-18). On synthetic_motion the head trains as
# the demos' probes do (5 epochs, Adam lr 1e-2).
_base_ = ['../_base_/ucf101.py']
protocol = dict(
    name='linear',
    dataset='ucf101',
    datasets=['ucf101', 'hmdb51', 'kinetics400', 'something_v1', 'synthetic_motion'],
    overrides=dict(
        synthetic_motion={
            'stages.0.epochs': 5,
            'stages.0.batch_size': 32,
            'stages.0.scheduler': None,
            'stages.0.num_workers': 2,
            'stages.0.optimizer': dict(type='Adam', lr=1e-2, weight_decay=1e-4),
        }
    ),
)
backbone = dict(type='r3d', depth=18, shortcut='B', stem_pool='1x3x3')
_train_view = dict(
    clip_len=16,
    stride=1,
    size=112,
    resize=128,
    crop='random_resized',
    scale=(0.2, 1.0),
    flip=0.5,
    color_jitter=[0.4, 0.4, 0.4],
)
_test_view = dict(clip_len=16, stride=1, size=112, resize=128, sampler='uniform', num_clips=5, crop='center')
_ucf = dict(type='ucf101', root={{_base_._ucf_root}}, annotation_dir={{_base_._ucf_lists}})
stages = [
    dict(
        name='linear',
        type='probe',
        epochs=100,
        batch_size=64,
        num_workers=8,
        dataset=dict(_ucf, subset='train', view=_train_view),
        val_dataset=dict(_ucf, subset='test', view=_test_view),
        method=dict(type='linear_probe', num_classes=101),
        optimizer=dict(type='Adam', lr=1e-3, weight_decay=1e-3),
        scheduler=dict(type='MultiStepLR', milestones=[60, 80], gamma=0.1),
        evaluator=dict(type='classification', average='softmax', report=True),
    ),
]
