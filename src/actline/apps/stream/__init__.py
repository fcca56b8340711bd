"""Live streaming: one sensor or many, frames in, state changes and alerts out.

- :mod:`actline.infer.streaming`: :class:`StreamingRecognizer` (one sensor); :mod:`actline.infer.stream_config`:
  :class:`StreamConfig`, :class:`Event`;
- :mod:`actline.data.background`: the empty room, learnt only where nobody is;
- :mod:`.state`: per-sensor state on disk (JSON + safetensors);
- :mod:`.collector`: :class:`FailureCollector`, windows for relabelling;
- :mod:`.sinks`: event sinks (JSON lines, webhook, callback);
- :mod:`.replay`, :mod:`.run`: replaying a file, the ``actline stream`` call.
"""

from actline.apps.stream.collector import FailureCollector
from actline.apps.stream.state import load_state, save_state
from actline.infer.stream_config import Event, StreamConfig, parse_alerts
from actline.infer.streaming import StreamingRecognizer

__all__ = ["Event", "FailureCollector", "StreamConfig", "StreamingRecognizer", "load_state", "parse_alerts",
           "save_state"]
