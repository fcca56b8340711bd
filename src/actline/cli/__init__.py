"""Command line: thin commands that parse arguments, call one library function and render the result.

``app`` is the typer application; importing the command modules registers their commands on it,
in the order ``actline --help`` lists them.
"""
# isort: skip_file

from actline.cli.app import app, main  # noqa: F401
from actline.cli import data, data_import, train, predict, adapt, timeline, export, stream, alerts, serve, label, report  # noqa: F401,E402  (registers the commands)
