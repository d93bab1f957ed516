# kNN retrieval, the CoCLR protocol (as MLFO, seed 003, reports it): the test split's videos are
# the queries, the training split's the gallery; a video's feature is the backbone's pooled output
# (`embed`) averaged over 10 uniformly spaced 16-frame clips (centre 112 px crop of frames resized
# to 128), i.e. video-level features; features are centred by the gallery mean and L2-normalised;
# R@1/5/10/20/50 by cosine similarity (a hit: one of the k nearest has the query's class).
# `vidssl-eval SOURCE --protocol knn --dataset NAME` runs it on any of `datasets`.
_base_ = ['../_base_/ucf101.py']
protocol = dict(
    name='knn',
    dataset='ucf101',
    datasets=['ucf101', 'hmdb51', 'kinetics400', 'something_v1', 'synthetic_motion'],
    overrides=dict(synthetic_motion={'stages.0.num_workers': 2, 'stages.0.batch_size': 32}),
)
backbone = dict(type='r3d', depth=18, shortcut='B', stem_pool='1x3x3')
_view = dict(clip_len=16, stride=1, size=112, resize=128, sampler='uniform', num_clips=10, crop='center')
_ucf = dict(type='ucf101', root={{_base_._ucf_root}}, annotation_dir={{_base_._ucf_lists}})
stages = [
    dict(
        name='knn',
        type='evaluate',
        batch_size=8,
        num_workers=8,
        val_dataset=dict(_ucf, subset='test', view=_view),
        evaluator=dict(
            type='retrieval', train_dataset=dict(_ucf, subset='train', view=_view), ks=[1, 5, 10, 20, 50]
        ),
    ),
]
