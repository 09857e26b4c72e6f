"""Prometheus metrics: ``GET /metrics`` (open by default; ``PTB_METRICS_PUBLIC=false``: admin)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST

router = APIRouter(tags=["health"])


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {
            "description": "Prometheus text exposition: requests, latency, model, reloads, audit",
            "content": {"text/plain": {"schema": {"type": "string"}}},
        }
    },
)
async def metrics(request: Request) -> Response:
    """Request counts and latency by route template, the serving model, reloads, audit writes."""
    return Response(request.app.state.metrics.exposition(), media_type=CONTENT_TYPE_LATEST)
