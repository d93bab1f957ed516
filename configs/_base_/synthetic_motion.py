# The embedded synthetic_motion dataset (10 motion classes, 32x32 px, 24-frame videos; clips of
# 8 frames taken every 2nd frame) and the
# small 3D ResNet used by every CPU demo. Names starting with "_" are helpers for child configs
# ({{_base_._name}}); they are not config keys.
_view_train = dict(clip_len=8, stride=2, size=32, crop='random_resized', scale=(0.6, 1.0))
_view_test = dict(clip_len=8, stride=2, size=32, sampler='center', crop='center')
_root = '{data_root}/synthetic_motion'  # the data goes to <root>/<key of its parameters>/
_train = dict(type='synthetic_motion', split='train', root=_root, view=_view_train)
_test = dict(type='synthetic_motion', split='test', root=_root, view=_view_test)
_unlabeled = dict(type='synthetic_motion', split='unlabeled', root=_root, view=_view_train)

backbone = dict(type='r3d', depth=18, width=0.25, stem_pool='1x3x3')
stage_defaults = dict(batch_size=32, num_workers=2, evaluator=dict(type='classification'))

# linear probe on frozen features (CoCLR protocol) of the random-init backbone; the residual-frame
# variants below add the probes after whatever a child config trains in between
_probe_random = dict(
    name='probe_random',
    type='probe',
    dataset=_train,
    val_dataset=_test,
    method=dict(type='linear_probe', num_classes=10),
    optimizer=dict(type='Adam', lr=1e-2, weight_decay=1e-4),
    epochs=5,
)

# The self-supervised demos read residual frames (frame differences, Tao et al. 2020): 9 frames,
# every 2nd, give 8 differences, and the static appearance of a video (unrelated to its class
# here) cancels. On RGB clips no SSL method leaves the random-init probe within the CPU budget
# (docs/data.md, "Residual frames"). Every stage of such a demo, random-init probe included, reads them.
_residual = dict(clip_len=9, residual=True)
_train_res = dict(_train, view=dict(_view_train, **_residual))
_test_res = dict(_test, view=dict(_view_test, **_residual))
_probe_random_res = dict(_probe_random, dataset=_train_res, val_dataset=_test_res)
_probe_res = dict(_probe_random_res, name='probe')
_probe_ir_res = dict(_probe_random_res, name='probe_ir')  # seed 000: after instance recognition
