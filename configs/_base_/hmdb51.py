# HMDB51: videos <data_root>/hmdb51/videos/<class>/*.avi, official split files in <data_root>/hmdb51/splits.
_hmdb_root = '{data_root}/hmdb51/videos'
_hmdb_lists = '{data_root}/hmdb51/splits'
