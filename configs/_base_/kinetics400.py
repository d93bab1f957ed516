# Kinetics-400: videos <data_root>/kinetics400/<train|val>/<label>/<ytid>_<start>_<end>.mp4 and the
# official CSVs in <data_root>/kinetics400/annotations.
_k400_train_root = '{data_root}/kinetics400/train'
_k400_val_root = '{data_root}/kinetics400/val'
_k400_train_csv = '{data_root}/kinetics400/annotations/train.csv'
_k400_val_csv = '{data_root}/kinetics400/annotations/validate.csv'
