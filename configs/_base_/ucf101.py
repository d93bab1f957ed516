# UCF101 as prepared in the README: videos under data/ucf101/UCF-101, official lists under
# data/ucf101/ucfTrainTestlist. Child configs use these as {{_base_._name}}.
_ucf_root = 'data/ucf101/UCF-101'
_ucf_lists = 'data/ucf101/ucfTrainTestlist'
