# The embedded synthetic_motion dataset (10 motion classes, 32x32 px, 24-frame videos; clips of
# 8 frames taken every 2nd frame) and the
# small 3D ResNet used by every CPU demo. Names starting with "_" are helpers for child configs
# ({{_base_._name}}); they are not config keys.
_view_train = dict(clip_len=8, stride=2, size=32, crop='random_resized', scale=(0.6, 1.0))
_view_test = dict(clip_len=8, stride=2, size=32, sampler='center', crop='center')
_train = dict(type='synthetic_motion', split='train', view=_view_train)
_test = dict(type='synthetic_motion', split='test', view=_view_test)
_unlabeled = dict(type='synthetic_motion', split='unlabeled', view=_view_train)

backbone = dict(type='r3d', depth=18, width=0.25, stem_pool='1x3x3')
stage_defaults = dict(batch_size=32, num_workers=2, evaluator=dict(type='classification'))

# linear probes on frozen features (CoCLR protocol): on the random-init backbone, and after
# whatever the child config trains in between
_probe_random = dict(
    name='probe_random', type='probe', dataset=_train, val_dataset=_test,
    method=dict(type='linear_probe', num_classes=10),
    optimizer=dict(type='Adam', lr=1e-2, weight_decay=1e-4),
    epochs=5)
_probe = dict(_probe_random, name='probe')
_probe_ir = dict(_probe_random, name='probe_ir')  # seed 000: the probe after instance recognition
