"""Frozen backbone features per chunk (``backbone``) and their on-disk cache (``cache``)."""
