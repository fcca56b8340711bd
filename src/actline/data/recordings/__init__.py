"""Recordings as files: one sensor's frames and timestamps, read and written.

- :mod:`.thermal_h5_file` (``frames/<sensor_id>.h5``, the ThermalDataGen layout) and
  :mod:`.thermal_h5_lazy` (the same read a slice at a time);
- :mod:`.recording_npz` (NumPy ``.npz``) and :mod:`.recording_files` (a folder of recordings as users
  bring them: HDF5, NPZ, Nagoya CSV);
- :mod:`.recorder` and :mod:`.frame_journal`: live sensors recorded as they stream, kill -9 safe.
"""
