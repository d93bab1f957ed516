# Seed 000's three-stage chain on synthetic_motion, scaled down for 2 CPU cores: IDT Fisher-vector
# clusters of the training videos (the same extraction, Fisher-vector and faiss code as
# vidssl-idt, smaller parameters), instance recognition warm-up, local aggregation with the fixed
# IDT clusters, then LA tuning with clusters of [memory bank ⊕ IDT features] recomputed every
# epoch. Linear probes after IR (probe_ir) and after the last LA stage (probe), against the
# random-init probe. The SSL stages read the training videos without their labels; every clip
# stage reads residual frames (see the base).
_base_ = ['_base_/synthetic_motion.py']

# whole videos for IDT; a clip of every training video (indexed, for the memory bank)
_videos = dict(type='synthetic_motion', split='train', root={{_base_._root}})
_ssl_view = dict(
    clip_len=9,
    stride=2,
    residual=True,
    size=32,
    crop='random_resized',
    scale=(0.5, 1.0),
    color_jitter=[0.4, 0.4, 0.4],
    grayscale=0.2,
)
_ssl = dict(type='synthetic_motion', split='train', root={{_base_._root}}, view=_ssl_view)
_sgd = dict(type='SGD', lr=0.03, momentum=0.9, weight_decay=1e-4, paramwise=dict(no_decay=['bn']))

backbone = dict(init='seed000')  # seed 000's pre-training init (merged into the base's)
custom_hooks = [dict(type='metrics_plot')]
stages = [
    {{_base_._probe_random_res}},
    dict(
        name='idt',
        type='extract',
        dataset=_videos,
        extractor=dict(
            type='idt_clusters',
            mode='dt',
            trajectory=dict(patch_size=16, min_distance=3, min_var=1.0),
            samples_per_video=100,
            pca=0.9,
            gmm_components=16,
            sketch_dim=256,
            k=20,
            num_c=3,
        ),
    ),
    dict(
        name='ir',
        type='train',
        dataset=_ssl,
        rows_from='idt/kept_rows.npy',
        method=dict(type='instance_recognition', num_noise=1024),
        optimizer=_sgd,
        epochs=6,
    ),
    {{_base_._probe_ir_res}},
    dict(
        name='la_idt',
        type='train',
        init_from='ir',
        init_method=True,
        dataset=_ssl,
        rows_from='idt/kept_rows.npy',
        method=dict(type='local_aggregation', clusters='file', background_k=512),
        optimizer=_sgd,
        epochs=8,
    ),
    dict(
        name='la_tune',
        type='train',
        init_from='la_idt',
        init_method=True,
        dataset=_ssl,
        rows_from='idt/kept_rows.npy',
        method=dict(type='local_aggregation', clusters='bank+features', k=20, num_c=3, background_k=512),
        optimizer=dict(_sgd, lr=0.003),
        epochs=3,
    ),
    {{_base_._probe_res}},
]
