"""``POST /v1/timeline`` (an upload becomes a job) and ``GET /v1/jobs/{id}``."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Depends, HTTPException, Request

from actline.apps.serve.body import (
    MULTIPART_OVERHEAD,
    check_declared_length,
    multipart_boundary,
    receive_upload,
)
from actline.apps.serve.jobs import QueueFull
from actline.apps.serve.security import refuse_cross_site, require_token

router = APIRouter(dependencies=[Depends(require_token)])


def run_timeline(pipeline, path: Path) -> list[dict]:
    """File -> segments, the service's one call into a timeline pipeline (PyTorch or ONNX Runtime). The
    job's deadline is checked after every batch of chunks, as well as by the readers."""
    from actline.data.limits import current_limits

    limits = current_limits()
    return [s.__dict__ for s in pipeline.run(path, progress=lambda *_: limits.check_deadline("upload"))]


@router.post("/v1/timeline", status_code=202, dependencies=[Depends(refuse_cross_site)])
async def submit(request: Request):
    """Upload a video or recording as multipart field ``file``; answers 202 with the job's id."""
    svc = request.app.state.service
    if svc.timeline is None:
        raise HTTPException(404, "no timeline model is loaded in this service")
    limit = svc.cfg.max_body_bytes
    boundary = multipart_boundary(request)
    check_declared_length(request, limit + MULTIPART_OVERHEAD)
    try:
        job = svc.jobs.reserve()
    except QueueFull as exc:
        raise HTTPException(429, str(exc), headers={"Retry-After": "10"}) from None
    try:
        await receive_upload(request, boundary, job, svc.jobs, limit, svc.cfg.job_timeout_s)
    except BaseException:  # a 4xx, a client that went away, a cancelled request: the job ends here
        svc.jobs.abandon(job)
        raise
    svc.jobs.start(job)
    return {"job_id": job.id, "status_url": f"/v1/jobs/{job.id}"}


@router.get("/v1/jobs/{job_id}")
def job_status(job_id: str, request: Request):
    job = request.app.state.service.jobs.get(job_id)
    if job is None:
        raise HTTPException(404, f"no job {job_id[:64]!r}")
    return job.to_dict()
