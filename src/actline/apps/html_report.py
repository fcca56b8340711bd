"""``actline report RUN --out report.html``: one self-contained HTML file per run.

Everything is inside the file (images and video as data URIs, plain JavaScript, no fonts or
scripts from the network), so it opens from disk with no server.

- A training run (``actline train``): the data summary, the figures with their 95% intervals
  beside every baseline, per-class precision/recall/F1, training curves, confusion matrix, and
  example evaluation windows per class with the model's predictions.
- A timeline model with ``--video`` (a video, or a thermal recording rendered to video): a player
  with the timeline bar underneath; the current segment is highlighted as the video plays, and
  clicking the bar seeks.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import json
import tempfile
from pathlib import Path

import numpy as np

from actline.core.atomic import write_text
from actline.core.errors import ActlineError

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2rem auto;max-width:1100px;color:#222;padding:0 1rem}
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #ddd;padding-bottom:.2rem}
table{border-collapse:collapse;margin:.5rem 0}td,th{border:1px solid #ddd;padding:.25rem .6rem;text-align:right}
td:first-child,th:first-child{text-align:left}tr.model td{font-weight:600;background:#f3f8ff}
.warn{background:#fff3f0;border-left:4px solid #d33;padding:.5rem 1rem}.note{color:#666;font-size:.9rem}
img{max-width:100%}.examples{display:flex;flex-wrap:wrap;gap:.5rem}.ex{font-size:.75rem;text-align:center;width:120px}
.ex.wrong{color:#b00}#bar{position:relative;height:34px;background:#333;cursor:pointer;margin-top:4px}
#bar .seg{position:absolute;top:0;height:100%;box-sizing:border-box;border-right:1px solid #0006;opacity:.55}
#bar .seg.current{opacity:1;outline:2px solid #000;z-index:1}#cursor{position:absolute;top:-3px;width:3px;height:40px;background:#e00;z-index:2}
#now{font-size:1.1rem;margin:.4rem 0;min-height:1.5em}video{width:100%;max-height:480px;background:#000}
"""

PLAYER_JS = """
const segs = JSON.parse(document.getElementById('segments').textContent);
const video = document.getElementById('player'), bar = document.getElementById('bar');
const cursor = document.getElementById('cursor'), now = document.getElementById('now');
const duration = () => (isFinite(video.duration) && video.duration > 0) ? video.duration : segs[segs.length-1].end_s;
function update() {
  const t = video.currentTime, d = duration();
  cursor.style.left = (100 * t / d) + '%';
  let cur = -1;
  segs.forEach((s, i) => { if (t >= s.start_s && t < s.end_s) cur = i; });
  document.querySelectorAll('#bar .seg').forEach((el, i) => el.classList.toggle('current', i === cur));
  now.textContent = cur >= 0 ? `${t.toFixed(1)} s: ${segs[cur].label}` + (segs[cur].fine ? ` / ${segs[cur].fine}` : '')
    + (segs[cur].value_category ? ` [${segs[cur].value_category}]` : '') : `${t.toFixed(1)} s`;
  now.dataset.segment = cur;
}
bar.addEventListener('click', e => {
  const r = bar.getBoundingClientRect();
  video.currentTime = (e.clientX - r.left) / r.width * duration();
  update();
});
['timeupdate', 'seeked', 'loadedmetadata'].forEach(ev => video.addEventListener(ev, update));
update();
"""


def _png(path_or_fig) -> str:
    if isinstance(path_or_fig, (str, Path)):
        data = Path(path_or_fig).read_bytes()
    else:
        from actline.core.plotting import pyplot

        buf = io.BytesIO()
        path_or_fig.savefig(buf, format="png", dpi=90)
        pyplot().close(path_or_fig)
        data = buf.getvalue()
    return "data:image/png;base64," + base64.b64encode(data).decode()


def _table(header: list[str], rows: list[list], classes: list[str] | None = None) -> str:
    h = "".join(f"<th>{html.escape(str(c))}</th>" for c in header)
    body = []
    for i, r in enumerate(rows):
        cls = f' class="{classes[i]}"' if classes and classes[i] else ""
        body.append(f"<tr{cls}>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in r) + "</tr>")
    return f"<table><tr>{h}</tr>{''.join(body)}</table>"


def _fmt(v) -> str:
    return f"{v:.1f}" if isinstance(v, (int, float)) else str(v)


def _page(title: str, sections: list[str], script: str = "") -> str:
    return (f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{html.escape(title)}</title>"
            f"<meta name=viewport content='width=device-width'><style>{CSS}</style></head><body>"
            f"<h1>{html.escape(title)}</h1>{''.join(sections)}"
            + (f"<script>{script}</script>" if script else "") + "</body></html>")


def run_sections(run: Path) -> tuple[str, list[str]]:
    m = json.loads((run / "metrics.json").read_text(encoding="utf-8"))
    sp = m["split"]
    keys = ("top1", "top5", "mean_class_accuracy", "macro_f1")
    secs = []
    if sp.get("warning"):
        secs.append(f"<p class=warn id=split-warning>{html.escape(sp['warning'])}</p>")
    secs.append("<h2>Data</h2>" + _data_summary(m))
    ci = m.get("ci95", {})
    rows = [[f"{m['model']}" + (f" ×{m['seeds']}" if m.get("seeds", 1) > 1 else "")]
            + [f"{m[k]:.1f} [{ci[k][0]:.0f}–{ci[k][1]:.0f}]" if k in ci else _fmt(m[k]) for k in keys]]
    for name, b in m["baselines"].items():
        rows.append([name + (f" ({b['model']})" if "model" in b else "")] + [_fmt(b[k]) for k in keys])
    secs.append(f"<h2>Held-out results</h2><p>split <b>{html.escape(sp['name'])}</b>: {m['n']} evaluation windows, "
                f"{sp.get('n_train', '?')} training windows. Brackets: bootstrap 95% interval.</p>"
                + _table(["", "top-1 %", "top-5 %", "mean class acc %", "macro-F1 %"], rows,
                         ["model"] + [""] * (len(rows) - 1)).replace("<table>", "<table id=metrics>", 1))
    pc = m.get("per_class", {})
    secs.append("<h2>Per class</h2>" + _table(["class", "precision %", "recall %", "F1 %", "windows"],
                                              [[c, _fmt(v["precision"]), _fmt(v["recall"]), _fmt(v["f1"]), v["support"]]
                                               for c, v in pc.items()]).replace("<table>", "<table id=per-class>", 1))
    if m.get("false_falls"):
        secs.append(_false_falls(m["false_falls"]))
    figs = []
    for name, title in (("curves.png", "Training curves"), ("confusion.png", "Confusion matrix (evaluation windows)")):
        if (run / name).is_file():
            figs.append(f"<h2>{title}</h2><img alt='{title}' src='{_png(run / name)}'>")
    secs += figs
    secs.append("<h2>Example evaluation windows</h2>" + _examples(run, m))
    return f"actline run: {m['model']} on {Path(m.get('data', run.name)).name}", secs


def cv_sections(cv_dir: Path) -> tuple[str, list[str]]:
    """``actline cv``'s page: per fold beside the baselines, mean ± sd over folds, pooled, per class."""
    cv = json.loads((cv_dir / "cv.json").read_text(encoding="utf-8"))
    keys = [k for k in ("top1", "mean_class_accuracy", "macro_f1") if k in cv["pooled"]]
    names = {"top1": "top-1 %", "mean_class_accuracy": "mean class acc %", "macro_f1": "macro-F1 %"}
    folds = [[r["repeat"], r["fold"], r.get("n", "")] + [_fmt(r.get(k, "")) for k in keys]
             + [_fmt(r.get(f"classical_{k}", "")) for k in keys] + [_fmt(r.get(f"majority_{k}", "")) for k in keys]
             for r in cv["per_fold"]]
    header = ["repeat", "fold", "windows"] + [names[k] for k in keys] + [f"classical {names[k]}" for k in keys] \
        + [f"majority {names[k]}" for k in keys]
    p = cv["pooled"]
    pooled = [[f"repeat {r['repeat']}", r["n"]] + [_fmt(r[k]) for k in keys] for r in p["per_repeat"]]
    pooled.append(["mean ± sd over repeats", ""] + [f"{p[k]['mean']:.1f} ± {p[k]['sd']:.1f}"
                                                    if isinstance(p[k], dict) else _fmt(p[k]) for k in keys])
    pc = cv["per_class_pooled"]
    secs = [f"<p>{cv['folds']} folds grouped by {html.escape(cv['group_by'])}, {cv['repeats']} repeat(s), model "
            f"<b>{html.escape(str(cv['model']))}</b>, data {html.escape(Path(cv['data']).name)}. Every fold is a run "
            f"directory under r&lt;repeat&gt;/fold&lt;k&gt;.</p>",
            "<h2>Pooled over all held-out windows</h2>" + _table(["", "windows"] + [names[k] for k in keys], pooled)
            .replace("<table>", "<table id=pooled>", 1),
            "<h2>Per fold, beside the baselines</h2>" + _table(header, folds).replace("<table>", "<table id=folds>", 1),
            "<h2>Per class, pooled over folds and repeats</h2>"
            + _table(["class", "recall %", "F1 %", "windows", "predicted"],
                     [[c, _fmt(v.get("recall")), _fmt(v.get("f1")), v.get("support"), v.get("predicted")]
                      for c, v in pc.items()]).replace("<table>", "<table id=per-class>", 1)]
    if cv.get("false_falls_pooled"):
        secs.append(_false_falls(cv["false_falls_pooled"]))
    return f"actline cv: {cv['model']} on {Path(cv['data']).name}", secs


def _false_falls(f: dict) -> str:
    """Windows of other classes read as a fall, per location (room or day), beside the baselines' overall share."""
    base = "".join(f", {html.escape(n)} {v:.1f} %" for n, v in f.get("baselines", {}).items())
    rows = [[loc, v["windows"], _fmt(v["share"])] for loc, v in f["by_location"].items()]
    return (f"<h2>Read as a fall</h2><p>Windows of other classes read as {html.escape(', '.join(f['alarm_classes']))}: "
            f"<b>{f['share']:.1f} %</b> of {f['windows']} (baselines{base}).</p>"
            + _table(["location", "windows of other classes", "read as a fall %"], rows)
            .replace("<table>", "<table id=false-falls>", 1))


def _data_summary(m: dict) -> str:
    sp = m["split"]
    counts = sp.get("eval_counts") or {}
    parts = [f"<p>data <code>{html.escape(str(m.get('data')))}</code> ({html.escape(str(m.get('data_format')))}); "
             f"selection: {html.escape(str(m.get('selection', '')))}; training time {m.get('train_time_s', '?')} s.</p>"]
    if counts:
        parts.append(_table(["class", "training windows", "evaluation windows"],
                            [[c, sp.get("train_counts", {}).get(c, ""), n] for c, n in counts.items()]))
    return "".join(parts)


def _examples(run: Path, m: dict, per_class: int = 3) -> str:
    """The centre frame of a few evaluation windows per class, captioned with truth and prediction."""
    from actline.data import load_dataset

    try:
        ds = load_dataset(m["data"])
    except ActlineError as exc:
        return f"<p class=note>data not available ({html.escape(str(exc))}): no examples</p>"
    from actline.core.plotting import pyplot

    plt = pyplot()
    with open(run / "predictions.csv", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    by_class: dict[str, list[dict]] = {}
    for r in rows:
        by_class.setdefault(r["true"], []).append(r)
    items = []
    for cls in ds.classes:
        for r in by_class.get(cls, [])[:per_class]:
            rec = ds.recordings.get(r["recording_id"])
            if rec is None:
                continue
            frame = rec.frames[int(r["frame_idx"])]
            bg = rec.empty_room()
            fig, ax = plt.subplots(figsize=(1.4, 1.4 * frame.shape[0] / frame.shape[1]))
            ax.imshow(np.where(frame <= -100, np.nan, frame - bg), cmap="inferno", vmin=-0.5, vmax=4)
            ax.axis("off")
            fig.subplots_adjust(0, 0, 1, 1)
            wrong = r["pred"] != r["true"]
            items.append(f"<div class='ex{' wrong' if wrong else ''}'><img alt='{html.escape(cls)}' "
                         f"src='{_png(fig)}'><br>true: {html.escape(r['true'])}<br>pred: {html.escape(r['pred'])} "
                         f"({float(r['confidence']):.2f})</div>")
    if not items:
        return "<p class=note>no evaluation windows</p>"
    return ("<p class=note>centre frame of the window minus the empty room (°C above background); red: wrong</p>"
            f"<div class=examples id=examples>{''.join(items)}</div>")


def _video_data_uri(source: Path, max_width: int = 480) -> str:
    """The video (or a thermal recording rendered as a heat map) as a VP9 WebM data URI."""
    from actline.data.video import write_video
    from actline.infer.overlay import display_frames

    frames, fps, _ = display_frames(source, max_width)
    with tempfile.TemporaryDirectory(prefix="actline-report-") as tmpdir:
        tmp = write_video(Path(tmpdir) / "video.webm", (f for _, f in frames), fps, codec="libvpx-vp9")
        data = tmp.read_bytes()
    return "data:video/webm;base64," + base64.b64encode(data).decode()


def timeline_sections(model_dir: Path, video: Path, timeline: Path | None) -> tuple[str, list[str], str]:
    from actline.core.plotting import palette
    from actline.data.segments import read_segments
    from actline.infer.loader import load

    tm = load(model_dir)
    segs = read_segments(timeline) if timeline is not None else tm.run(video)
    if not segs:
        raise ActlineError(video, "the timeline is empty")
    colours = palette([s.label for s in segs])
    total = segs[-1].end_s
    bars = "".join(
        f"<div class=seg title='{html.escape(s.label)} {s.start_s:.1f}-{s.end_s:.1f} s' "
        f"style='left:{100 * s.start_s / total:.4f}%;width:{100 * (s.end_s - s.start_s) / total:.4f}%;"
        f"background:rgb{colours[s.label]}'></div>" for s in segs)
    uri = _video_data_uri(video)
    legend = " ".join(f"<span style='background:rgb{c};padding:0 .4rem'>{html.escape(k)}</span>" for k, c in colours.items())
    seg_json = json.dumps([s.__dict__ for s in segs]).replace("</", "<\\/")
    rows = [[s.label, s.fine or "", s.value_category or "", f"{s.start_s:.1f}", f"{s.end_s:.1f}",
             "" if s.confidence is None else f"{s.confidence:.2f}"] for s in segs]
    m = tm.cfg.get("metrics", {})
    secs = [f"<h2>Timeline player</h2><video id=player controls preload=auto src='{uri}'></video>"
            f"<div id=bar>{bars}<div id=cursor></div></div><div id=now></div><p>{legend}</p>"
            f"<script type=application/json id=segments>{seg_json}</script>",
            "<h2>Segments</h2>" + _table(["coarse", "fine", "value", "start s", "end s", "confidence"], rows),
            "<h2>Model (held-out clips)</h2>" + _table(["", "value"], [[k, _fmt(v)] for k, v in m.items()
                                                                      if isinstance(v, (int, float))])]
    return f"actline timeline: {video.name}", secs, PLAYER_JS


def build_report(run: str | Path, out: str | Path, video: str | Path | None = None,
                 timeline: str | Path | None = None) -> Path:
    run, out = Path(run), Path(out)
    if not run.is_dir():
        raise ActlineError(run, "run or model directory not found")
    if (run / "metrics.json").is_file() and (run / "predictions.csv").is_file():
        title, secs = run_sections(run)
        script = ""
    elif (run / "cv.json").is_file():
        title, secs = cv_sections(run)
        script = ""
    elif (run / "stage1").is_dir():
        if video is None:
            raise ActlineError(run, "a timeline report needs --video (a video or a thermal recording)")
        title, secs, script = timeline_sections(run, Path(video), Path(timeline) if timeline else None)
    else:
        raise ActlineError(run, "not a training run (metrics.json + predictions.csv), a cross-validation (cv.json) "
                                "or a timeline model")
    return write_text(out, _page(title, secs, script))
