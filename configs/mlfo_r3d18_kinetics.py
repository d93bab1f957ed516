# MLFO (seed 003) pre-training on Kinetics-400 (K 1000, 100 epochs, lr decay at 70, graph from epoch 20), then the CoCLR-style
# linear probe, fine-tuning (backbone at lr/10) and retrieval on UCF101 split 1. Without the
# datasets it stops at once with the preparation hint.
_base_ = ['_base_/mlfo_recipe.py', '_base_/kinetics400.py', '_base_/ucf101.py']
_ucf = dict(type='ucf101', root={{_base_._ucf_root}}, annotation_dir={{_base_._ucf_lists}})
stages = [
    dict(name='pretrain', type='train', epochs=100, dataset=dict(type='kinetics400', root={{_base_._k400_train_root}}, annotation={{_base_._k400_train_csv}}, view={{_base_._pretrain_view}}),
         method=dict(type='mlfo', num_prototypes=1000, split=20),
         optimizer={{_base_._pretrain_optimizer}},
         scheduler=dict(type='MultiStepLR', milestones=[70], gamma=0.1)),
    dict(name='probe', type='probe', epochs=100, dataset=dict(_ucf, subset='train', view={{_base_._train_view}}),
         val_dataset=dict(_ucf, subset='test', view={{_base_._test_view}}),
         method=dict(type='linear_probe', num_classes=101),
         optimizer={{_base_._eval_optimizer}}, scheduler={{_base_._eval_scheduler}}),
    dict(name='finetune', type='train', init_from='pretrain', epochs=100,
         dataset=dict(_ucf, subset='train', view={{_base_._train_view}}),
         val_dataset=dict(_ucf, subset='test', view={{_base_._test_view}}),
         method=dict(type='supervised', num_classes=101, dropout=0.9),
         optimizer={{_base_._finetune_optimizer}},
         scheduler={{_base_._eval_scheduler}}),
    dict(name='retrieval', type='evaluate', init_from='pretrain',
         val_dataset=dict(_ucf, subset='test', view={{_base_._test_view}}),
         evaluator=dict(type='retrieval', train_dataset=dict(_ucf, subset='train', view={{_base_._test_view}}))),
]
