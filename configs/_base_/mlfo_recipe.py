_base_ = ['ucf101.py']
# MLFO (seed 003) recipe: R3D-18 with MLFO's 1x3x3 stem pool; pre-training views = halves of a
# 32-frame span at a random rate in [1, 3] and the every-2nd-frame global clip, 112x112, random
# sized crop (area 0.5-1), flip p 0.5, per-frame grayscale p 0.5 and colour jitter 0.5; Adam lr
# 1e-3, weight decay 1e-5, lr x0.1 once at lr_decay. Downstream (CoCLR protocol): linear probe
# on frozen L2-normalised features, fine-tuning, and retrieval.
_pretrain_view = dict(
    clip_len=16,
    size=112,
    crop='random_resized',
    scale=(0.5, 1.0),
    flip=0.5,
    color_jitter=[0.5, 0.5, 0.5],
    grayscale=0.5,
    per_frame_color=True,
)
_train_view = dict(
    clip_len=16,
    size=112,
    resize=128,
    crop='random_resized',
    scale=(0.2, 1.0),
    flip=0.5,
    color_jitter=[0.4, 0.4, 0.4],
)
_test_view = dict(clip_len=16, size=112, resize=128, sampler='uniform', num_clips=5, crop='center')
_pretrain_optimizer = dict(type='Adam', lr=1e-3, weight_decay=1e-5)
_eval_optimizer = dict(type='Adam', lr=1e-3, weight_decay=1e-3)
_eval_scheduler = dict(type='MultiStepLR', milestones=[60, 80], gamma=0.1)
backbone = dict(type='r3d', depth=18, shortcut='B', stem_pool='1x3x3')
stage_defaults = dict(batch_size=64, num_workers=8, evaluator=dict(type='classification', average='softmax'))
_finetune_optimizer = dict(
    type='Adam', lr=1e-3, weight_decay=1e-3, paramwise=dict(lr_mult={'backbone.': 0.1})
)

# downstream stages on UCF101 split 1 (after a stage named 'pretrain')
_ucf = dict(type='ucf101', root={{_base_._ucf_root}}, annotation_dir={{_base_._ucf_lists}})
_probe_ucf = dict(
    name='probe',
    type='probe',
    epochs=100,
    dataset=dict(_ucf, subset='train', view=_train_view),
    val_dataset=dict(_ucf, subset='test', view=_test_view),
    method=dict(type='linear_probe', num_classes=101),
    optimizer=_eval_optimizer,
    scheduler=_eval_scheduler,
)
_finetune_ucf = dict(
    name='finetune',
    type='train',
    init_from='pretrain',
    epochs=100,
    dataset=dict(_ucf, subset='train', view=_train_view),
    val_dataset=dict(_ucf, subset='test', view=_test_view),
    method=dict(type='supervised', num_classes=101, dropout=0.9),
    optimizer=_finetune_optimizer,
    scheduler=_eval_scheduler,
)
_retrieval_ucf = dict(
    name='retrieval',
    type='evaluate',
    init_from='pretrain',
    val_dataset=dict(_ucf, subset='test', view=_test_view),
    evaluator=dict(type='retrieval', train_dataset=dict(_ucf, subset='train', view=_test_view)),
)
_ucf_pretrain_data = dict(_ucf, subset='train', view=_pretrain_view)
