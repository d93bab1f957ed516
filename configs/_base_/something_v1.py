# Something-Something V1: frames <data_root>/something_v1/20bn-something-something-v1/<id>/00001.jpg and
# the ;-separated CSVs of the release in <data_root>/something_v1.
_ssv1_root = '{data_root}/something_v1/20bn-something-something-v1'
_ssv1_labels = '{data_root}/something_v1/something-something-v1-labels.csv'
_ssv1_train = '{data_root}/something_v1/something-something-v1-train.csv'
_ssv1_val = '{data_root}/something_v1/something-something-v1-validation.csv'
