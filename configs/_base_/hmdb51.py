# HMDB51: videos data/hmdb51/videos/<class>/*.avi, official split files in data/hmdb51/splits.
_hmdb_root = 'data/hmdb51/videos'
_hmdb_lists = 'data/hmdb51/splits'
