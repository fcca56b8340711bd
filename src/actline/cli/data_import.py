"""Commands that bring your own labelled recordings in and send recordings out to labelling tools:
data import, data render."""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import List, Optional

import typer

from actline.cli.app import data_app
from actline.cli.options import choice, data_option, json_option, out_option, overwrite_option, quiet_option
from actline.cli.render import err, next_step, say
from actline.core.errors import ActlineError


def _classes(text: Optional[str]) -> Optional[list[str]]:
    if text is None:
        return None
    names = [c.strip() for c in text.split(",") if c.strip()]
    if not names:
        raise ActlineError("--classes", "give class names separated by commas, e.g. --classes sitting,standing,lying")
    return names


@data_app.command("import")
def data_import(
    out_dir: Path = out_option("Data set directory to create (ThermalDataGen layout)."),
    frames: Path = typer.Option(..., "--frames", help="Folder of recordings, one file each: .h5, .npz, .csv or "
                                ".csv.gz, named <location>_<rest>; or a folder holding them in frames/ (a data set, "
                                "what stream --record wrote)."),
    segments: Optional[Path] = typer.Option(None, "--segments", help="Segments CSV: recording,start_s,end_s,label "
                                            "(seconds from each recording's first frame)."),
    label_studio: Optional[Path] = typer.Option(None, "--label-studio", help="Label Studio export (Export -> JSON) "
                                                "of the videos actline data render made."),
    cvat: Optional[List[Path]] = typer.Option(None, "--cvat", help="CVAT export ('CVAT for video 1.1', .xml or "
                                              ".zip) of one rendered video; repeat for each video."),
    videos: Optional[Path] = typer.Option(None, "--videos", help="The folder actline data render wrote (its "
                                          "sidecars map video frames back to sensor frames)."),
    classes: Optional[str] = typer.Option(None, "--classes", help="Class names, comma-separated (default: those "
                                          "of the render, else the labels found, in order)."),
    keyframe_every: float = typer.Option(1.45, "--keyframe-every", help="Seconds between keyframes inside a segment."),
    keyframe_edge: float = typer.Option(0.2, "--keyframe-edge", help="No keyframe closer than this to a segment's ends."),
    overwrite: bool = overwrite_option("OUT"),
    as_json: bool = json_option("Print the summary as JSON."),
):
    """Build a labelled data set from your recordings and a segments CSV or a labelling tool's export."""
    from actline.data.labels import KeyframeRule
    from actline.data.labels.label_import import import_labelled

    given = [(k, v) for k, v in (("segments", [segments] if segments else []),
                                 ("label-studio", [label_studio] if label_studio else []), ("cvat", cvat or [])) if v]
    if len(given) > 1:
        raise ActlineError("data import", "give one of --segments, --label-studio, --cvat")
    source, labels = given[0] if given else (None, [])
    rule = KeyframeRule(every_s=keyframe_every, edge_s=keyframe_edge)
    path, summary = import_labelled(out_dir, frames, source, labels, videos, _classes(classes), rule, overwrite)
    if as_json:
        print(json.dumps({"out": str(path), **summary}), flush=True)
    say(f"wrote {path} ({summary['recordings']} recordings, {summary['segments']} segments in "
        f"{summary['labelled_recordings']} of them)")
    next_step(f"actline data inspect --data {shlex.quote(str(path))}")


def _tools():
    from actline.data.labels.render_video import TOOLS

    return TOOLS


@data_app.command("render")
def data_render(
    data: Path = data_option("Data set (its frames/ and classes) or a folder of recordings."),
    out_dir: Optional[Path] = out_option("Folder to create (default: DATA-videos beside DATA).", None),
    tool: str = choice("label-studio", "--tool", _tools, "label-studio|cvat",
                       help="Which labelling tool's project files to write."),
    classes: Optional[str] = typer.Option(None, "--classes", help="Class names, comma-separated (default: the data set's)."),
    scale: str = typer.Option("15,40", "--scale", help="Colour scale in °C, low,high: the same for every video."),
    video_fps: float = typer.Option(10.0, "--video-fps", help="Video frames a second (one sensor frame each)."),
    zoom: int = typer.Option(8, "--zoom", help="Enlarge each sensor pixel to ZOOM x ZOOM video pixels."),
    url_prefix: Optional[str] = typer.Option(None, "--url-prefix", help="Label Studio tasks: URL of the videos up to "
                                             "the file name (default: /data/local-files/?d=<OUT name>/)."),
    overwrite: bool = overwrite_option("OUT"),
    quiet: bool = quiet_option(),
):
    """One MP4 per recording (heat map, sensor clock burned in) with a frame sidecar, and the tool's project files."""
    from actline.data.labels.render_video import RenderSpec, render_input, render_recordings

    try:
        lo, hi = (float(v) for v in scale.split(","))
    except ValueError:
        raise ActlineError("--scale", f"expected two temperatures, e.g. 15,40; got {scale!r}") from None
    spec = RenderSpec(video_fps=video_fps, scale_c=(lo, hi), zoom=zoom, tool=tool, url_prefix=url_prefix)
    recordings, found = render_input(data)
    target = out_dir or data.parent / f"{data.name.rstrip('/')}-videos"
    path = render_recordings(recordings, _classes(classes) or found, target, spec, overwrite,
                             progress=None if quiet else (lambda name: err.print(f"rendered {name}", highlight=False)))
    say(f"wrote {path} ({len(recordings)} videos and their sidecars)")
    source = "--label-studio EXPORT.json" if tool == "label-studio" else "--cvat EXPORT.xml"
    frames = data / "frames" if (data / "frames").is_dir() else data
    next_step(f"label them in {tool}, then actline data import --frames {shlex.quote(str(frames))} {source} "
              f"--videos {shlex.quote(str(path))} --out NEW_DATA")
