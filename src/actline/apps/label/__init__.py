"""``actline label``: label recordings in the browser, and answer the review queue.

A local web page (FastAPI on uvicorn; plain HTML, CSS and JavaScript in ``static/``, nothing fetched
from elsewhere) over one labelled data set. One concern per module:

- ``label_store``: the data set as the page sees it (recordings a slice at a time, segments, classes,
  saves through :func:`actline.data.labels.update_dataset` with the version the page loaded);
- ``label_requests``: request bodies checked field by field;
- ``label_review``: a review item's answer becomes a recording and a segment of the data set;
- ``label_app``: the routes, :func:`create_label_app` and :func:`run_label`.
"""

from actline.apps.label.label_app import create_label_app, run_label

__all__ = ["create_label_app", "run_label"]
