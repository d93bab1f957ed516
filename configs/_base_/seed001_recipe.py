# Seed 001's training recipe (tools/opts.py defaults and scripts): SGD momentum 0.9 with
# dampening 0.9, weight decay 1e-4, lr 0.01, ReduceLROnPlateau on the validation loss
# (patience 10, min lr 1e-6), 100 epochs, batch 32; ImageNet normalisation; multi-scale crops
# (0.95^i) and flips; test = 10 uniform clips × 3 crops, softmax scores averaged.
_optimizer = dict(type='SGD', lr=0.01, momentum=0.9, dampening=0.9, weight_decay=1e-4)
_scheduler = dict(type='ReduceLROnPlateau', mode='min', patience=10, min_lr=1e-6)
_scales = [1.0, 0.95, 0.9025, 0.857375, 0.81450625]
stage_defaults = dict(batch_size=32, num_workers=8, evaluator=dict(type='classification'))
