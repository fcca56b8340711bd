"""What a trained model sees in a thermal recording, window by window, from Python.

    python examples/predict.py runs/demo/run/model runs/demo/data/frames/SL23_R3.h5

The model is a model directory, or an exported model.onnx (ONNX Runtime: no torch needed). The
recording is a ThermalDataGen .h5 file or a Nagoya .csv/.csv.gz; your own frames work the same way:
an array [frames, height, width] in °C and their times in seconds.
"""

import sys

import actline
from actline.data.formats import load_recording

model = actline.load(sys.argv[1])
rec = load_recording(sys.argv[2])
room = rec.empty_room()  # the empty room (per-pixel median), for models that compare or subtract it
fps = (rec.n_frames - 1) / (rec.timestamps[-1] - rec.timestamps[0])  # this recording's frame rate
rule = model.rule  # the window the model looks at: `length` frames, or `length / fps` seconds resampled
size = rule.length if rule.mode == "index" else round(rule.length / rule.fps * fps)
for start in range(0, rec.n_frames - size + 1, max(1, size // 2)):
    frames, times = rec.frames[start:start + size], rec.timestamps[start:start + size]
    p = model.predict(frames, times, room=room)
    print(f"{times[0] - rec.timestamps[0]:6.1f} s  {p.label:<36} {p.confidence:.2f}")
