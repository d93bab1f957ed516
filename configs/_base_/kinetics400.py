# Kinetics-400: videos data/kinetics400/<train|val>/<label>/<ytid>_<start>_<end>.mp4 and the
# official CSVs in data/kinetics400/annotations.
_k400_train_root = 'data/kinetics400/train'
_k400_val_root = 'data/kinetics400/val'
_k400_train_csv = 'data/kinetics400/annotations/train.csv'
_k400_val_csv = 'data/kinetics400/annotations/validate.csv'
