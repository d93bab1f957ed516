# UCF101 as prepared in docs/data.md: videos under <data_root>/ucf101/UCF-101, official lists under
# <data_root>/ucf101/ucfTrainTestlist. Child configs use these as {{_base_._name}}.
_ucf_root = '{data_root}/ucf101/UCF-101'
_ucf_lists = '{data_root}/ucf101/ucfTrainTestlist'
