"""Request bodies read as they arrive, counted against the limit chunk by chunk.

A declared ``Content-Length`` over the limit is refused before reading; a chunked body (no length
declared) is refused with 413 as soon as the bytes received pass the limit, having held at most
one chunk beyond it. An upload's file part goes straight to its job's file (python-multipart's
push parser, so nothing is spooled elsewhere), and a failed upload leaves nothing on disk.
"""

from __future__ import annotations

from pathlib import Path

import anyio
from fastapi import HTTPException, Request
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from actline.apps.serve.jobs import Job, JobQueue
from actline.data.video import VIDEO_SUFFIXES

UPLOAD_SUFFIXES = (*VIDEO_SUFFIXES, ".h5", ".hdf5", ".csv", ".csv.gz")
MULTIPART_OVERHEAD = 64 * 1024  # boundaries, part headers and small fields around the file
MAX_PARTS, MAX_HEADER_BYTES = 4, 8 * 1024


def media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


def too_large(limit: int, declared: int | None = None) -> HTTPException:
    """413, closing the connection: the server reads no more of the body (uvicorn would read and discard
    the rest to keep the connection open)."""
    what = f"body of {declared} bytes" if declared is not None else "body"
    return HTTPException(413, f"{what} exceeds the limit of {limit} bytes", headers={"Connection": "close"})


def check_declared_length(request: Request, limit: int) -> None:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large(limit, int(declared))


async def read_body(request: Request, limit: int) -> bytes:
    check_declared_length(request, limit)
    buf = bytearray()
    async for chunk in request.stream():
        buf += chunk
        if len(buf) > limit:
            raise too_large(limit)
    return bytes(buf)


def upload_suffix(filename: str) -> str:
    """The stored file's suffix, from the client's file name (which contributes nothing else)."""
    name = Path(filename).name.lower()
    suffix = ".csv.gz" if name.endswith(".gz") else Path(name).suffix
    if suffix not in UPLOAD_SUFFIXES:
        raise HTTPException(415, f"unsupported file type {suffix or '(none)'!r} (known: {', '.join(UPLOAD_SUFFIXES)})")
    return suffix


class _Parts:
    """python-multipart callbacks, turned into events: ("file", name), ("data", bytes), ("end", None)."""

    def __init__(self, boundary: bytes):
        self.events: list[tuple[str, object]] = []
        self.parts, self.in_file, self.files, self.complete = 0, False, 0, False
        self._headers: dict[bytes, bytes] = {}
        self._field = self._value = b""
        self.parser = MultipartParser(boundary, {
            "on_part_begin": self._begin, "on_header_field": self._hfield, "on_header_value": self._hvalue,
            "on_header_end": self._hend, "on_headers_finished": self._headers_done, "on_part_data": self._data,
            "on_part_end": self._part_end, "on_end": self._end})

    def feed(self, chunk: bytes) -> list[tuple[str, object]]:
        self.events = []
        try:
            self.parser.write(chunk)
        except MultipartParseError as exc:
            raise HTTPException(400, f"malformed multipart body: {exc}") from None
        return self.events

    def _begin(self):
        self.parts += 1
        if self.parts > MAX_PARTS:
            raise HTTPException(400, f"more than {MAX_PARTS} parts in the multipart body")
        self._headers, self.in_file = {}, False

    def _hfield(self, data, start, end):
        self._field += data[start:end]
        self._check_header()

    def _hvalue(self, data, start, end):
        self._value += data[start:end]
        self._check_header()

    def _check_header(self):
        if len(self._field) + len(self._value) > MAX_HEADER_BYTES:
            raise HTTPException(400, f"a multipart header is longer than {MAX_HEADER_BYTES} bytes")

    def _hend(self):
        self._headers[self._field.strip().lower()] = self._value.strip()
        self._field = self._value = b""

    def _headers_done(self):
        _, opts = parse_options_header(self._headers.get(b"content-disposition", b""))
        if opts.get(b"name") == b"file" and b"filename" in opts:
            self.files += 1
            if self.files > 1:
                raise HTTPException(400, "upload one file per request")
            self.in_file = True
            self.events.append(("file", opts[b"filename"].decode("utf-8", "replace")))

    def _data(self, data, start, end):
        if self.in_file:
            self.events.append(("data", bytes(data[start:end])))

    def _part_end(self):
        if self.in_file:
            self.events.append(("end", None))
            self.in_file = False

    def _end(self):
        self.complete = True


def multipart_boundary(request: Request) -> bytes:
    _, opts = parse_options_header(request.headers.get("content-type", ""))
    if media_type(request) != "multipart/form-data" or not opts.get(b"boundary"):
        raise HTTPException(415, "send multipart/form-data with a field 'file'")
    return opts[b"boundary"]


async def receive_upload(request: Request, boundary: bytes, job: Job, queue: JobQueue, limit: int,
                         timeout_s: float) -> int:
    """Stream the multipart field ``file`` into the job's file; returns its size. Raises 4xx on any problem
    (the caller abandons the job, which removes the file)."""
    parts, received, size, fh = _Parts(boundary), 0, 0, None
    try:
        with anyio.fail_after(timeout_s):
            async for chunk in request.stream():
                received += len(chunk)
                if received > limit + MULTIPART_OVERHEAD:
                    raise too_large(limit)
                for kind, value in parts.feed(chunk):
                    if kind == "file":
                        fh = await anyio.open_file(queue.path_for(job, upload_suffix(value)), "wb")
                    elif kind == "data":
                        size += len(value)
                        if size > limit:
                            raise too_large(limit)
                        await fh.write(value)
                    else:
                        await fh.aclose()
    except TimeoutError:
        raise HTTPException(408, f"the upload took longer than {timeout_s:g} s", headers={"Connection": "close"}) from None
    except OSError:  # our disk, not the client's fault
        raise HTTPException(503, "the upload cannot be stored now; try again later", headers={"Retry-After": "10"}) \
            from None
    finally:
        if fh is not None:
            await fh.aclose()
    if not parts.files:
        raise HTTPException(400, "upload the video or recording as multipart field 'file' (with a file name)")
    if not parts.complete:
        raise HTTPException(400, "the multipart body ends before its closing boundary")
    return size
