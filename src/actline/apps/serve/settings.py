"""Everything ``actline serve`` can be told, in one validated dataclass."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from actline.core.errors import ActlineError
from actline.data.limits import MB, ReadLimits

# What one upload may cost to read in the service: smaller than the library's defaults.
SERVICE_LIMITS = ReadLimits(max_decompressed_bytes=256 * MB, max_frame_values=1 << 26, max_video_s=2 * 3600.0,
                            max_video_pixels=1 << 25)
LOCAL_NAMES = ("localhost", "127.0.0.1", "[::1]")


@dataclass
class ServeConfig:
    host: str = "127.0.0.1"
    port: int = 8000
    max_body_mb: float = 64.0  # largest request body or upload (413)
    max_window_mb: float = 8.0  # largest /v1/predict body (413); JSON is parsed on the event loop, ~0.1 s per MB
    timeout_s: float = 30.0  # per prediction (504)
    predict_workers: int = 2  # predictions run at once
    predict_backlog: int = 8  # more predictions waiting (or still running after a 504) before 503
    queue_size: int = 4  # timeline jobs uploading, queued or running before 429
    job_workers: int = 1  # timeline jobs run at once
    job_timeout_s: float = 600.0  # a job (from its start) fails after this, and its files are removed
    keep_jobs: int = 100  # finished jobs remembered for GET /v1/jobs/{id}
    room_cache: int = 1024  # recordings whose empty room /v1/predict keeps (least recently used dropped first)
    room_ttl_s: float = 3600.0  # a kept room is estimated anew after this long
    token: str | None = None  # Authorization: Bearer <token> on every endpoint but /healthz
    public_metrics: bool = False  # /metrics, /docs and /openapi.json without the token
    allowed_hosts: tuple[str, ...] = ()  # Host header names accepted beside the local names and the bound host
    insecure_no_token: bool = False  # listen beyond loopback without a token (refused otherwise)
    device: str = "cpu"  # where torch models run (auto: a GPU when there is one)
    threads: int = 0  # CPU threads of each model (0: the runtime's default)
    limits: ReadLimits = field(default_factory=lambda: SERVICE_LIMITS)
    backend: str | None = None  # onnx | torch; None: ONNX where a model directory holds its export (apps/model_backend.py)

    @property
    def max_body_bytes(self) -> int:
        return int(self.max_body_mb * MB)

    @property
    def max_window_bytes(self) -> int:
        """A /v1/predict body: a window of 64 frames of 40x60 is about 1 MB as JSON, 0.6 MB as float32 .npy."""
        return int(min(self.max_window_mb, self.max_body_mb) * MB)

    def validate(self) -> ServeConfig:
        for name in ("max_body_mb", "max_window_mb", "timeout_s", "job_timeout_s", "room_ttl_s"):
            if not getattr(self, name) > 0:
                raise ActlineError("serve", f"{name} must be positive, got {getattr(self, name)}")
        for name in ("predict_workers", "queue_size", "job_workers", "keep_jobs", "room_cache"):
            if getattr(self, name) < 1:
                raise ActlineError("serve", f"{name} must be at least 1, got {getattr(self, name)}")
        if self.predict_backlog < 0:
            raise ActlineError("serve", f"predict_backlog must be at least 0, got {self.predict_backlog}")
        if self.token is not None and (len(self.token) < 16 or self.token != self.token.strip()):
            raise ActlineError("serve", "the token must be at least 16 characters, without surrounding spaces "
                                        "(e.g. `python -c 'import secrets; print(secrets.token_urlsafe())'`)")
        if not is_loopback(self.host) and self.token is None and not self.insecure_no_token:
            raise ActlineError("serve", f"listening on {self.host} (beyond this machine) needs a token: set "
                                        "ACTLINE_TOKEN (or --token), or pass --insecure-no-token to accept the risk")
        return self

    def host_names(self) -> list[str]:
        """Host header values accepted (DNS rebinding defence): the local names, the bound host, the extras."""
        names = list(LOCAL_NAMES)
        if self.host not in ("0.0.0.0", "::", ""):
            names.append(f"[{self.host}]" if ":" in self.host else self.host)
        return [n.lower() for n in dict.fromkeys(names + list(self.allowed_hosts))]


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:  # a host name: it may resolve to anything
        return False
