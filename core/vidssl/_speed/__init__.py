"""Private: speed switches that never change a result: precision and memory format, the lean 3-d
convolution, host memory of data workers.
"""
