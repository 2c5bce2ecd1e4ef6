"""The Novita API routes (under ``/gpu-instance/openapi/v1``), answering with hand-written Novita JSON.

Query strings and bodies are parsed by hand, not by FastAPI's validation, so every bad input answers with
Novita's own error envelope (400 ``VALIDATOR_PARAM``) instead of FastAPI's ``{"detail": ...}``.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse

from novictl.emulator.catalog import REPOSITORY_AUTHS, TEMPLATES, clusters_json, filter_products
from novictl.emulator.gateway import BASE_PATH
from novictl.emulator.responses import NovitaApiError
from novictl.emulator.state import EmulatorState
from novictl.emulator.validation import parse_create

__all__ = ["DEFAULT_PAGE_SIZE", "router"]

DEFAULT_PAGE_SIZE = 10

router = APIRouter(prefix=BASE_PATH)


def _state(request: Request) -> EmulatorState:
    state: EmulatorState = request.app.state.emulator
    return state


def _int_query(request: Request, *names: str) -> int | None:
    """The first of ``names`` present in the query, as an int; 400 VALIDATOR_PARAM when it is not one."""
    for name in names:
        raw = request.query_params.get(name)
        if raw is None or raw == "":
            continue
        try:
            return int(raw)
        except ValueError:
            raise NovitaApiError(400, "VALIDATOR_PARAM", f"{name} must be an integer") from None
    return None


async def _json_body(request: Request) -> Any:
    raw = await request.body()
    try:
        return json.loads(raw) if raw else {}
    except ValueError:
        raise NovitaApiError(400, "VALIDATOR_PARAM", "the body is not valid JSON") from None


async def _instance_id_from_body(request: Request) -> str:
    body = await _json_body(request)
    instance_id = body.get("instanceId") if isinstance(body, dict) else None
    if not isinstance(instance_id, str) or not instance_id:
        raise NovitaApiError(400, "VALIDATOR_PARAM", "instanceId is required")
    return instance_id


@router.get("/clusters")
async def list_clusters() -> JSONResponse:
    return JSONResponse({"data": clusters_json()})


@router.get("/products")
async def list_products(request: Request) -> JSONResponse:
    query = request.query_params
    products = filter_products(
        cluster_id=query.get("clusterId") or None,
        gpu_num=_int_query(request, "gpuNum"),
        product_name=query.get("productName") or None,
        billing_method=query.get("billingMethod") or None,
        min_cpu_per_gpu=_int_query(request, "minCpuPerGpu"),
        min_memory_per_gpu=_int_query(request, "minMemoryPerGpu"),
        min_rootfs_size=_int_query(request, "minRootFSSize"),
    )
    return JSONResponse({"data": [product.to_json() for product in products]})


@router.post("/gpu/instance/create")
async def create_instance(request: Request) -> JSONResponse:
    create = parse_create(await _json_body(request))
    return JSONResponse({"id": _state(request).create(create)})


@router.get("/gpu/instances")
async def list_instances(request: Request) -> JSONResponse:
    state = _state(request)
    page_size = _int_query(request, "pageSize") or DEFAULT_PAGE_SIZE
    page_num = _int_query(request, "pageNum", "pageNumber") or 0
    if page_size < 0 or page_num < 0:
        raise NovitaApiError(400, "VALIDATOR_PARAM", "pageSize and pageNum must not be negative")
    # Live Novita counts pages from 0; a one-based server reads 0 as 1, which clients must survive.
    page_index = page_num if state.config.paging == "zero" else max(page_num, 1) - 1
    query = request.query_params
    instances, total = state.list_instances(
        page_size=page_size,
        page_index=page_index,
        name=query.get("name") or None,
        product_name=query.get("productName") or None,
        status=query.get("status") or None,
    )
    return JSONResponse({"instances": instances, "total": total})


@router.get("/gpu/instance")
async def get_instance(request: Request) -> JSONResponse:
    instance_id = request.query_params.get("instanceId")
    if not instance_id:
        raise NovitaApiError(400, "VALIDATOR_PARAM", "instanceId is required")
    return JSONResponse(_state(request).get_json(instance_id))


async def _operate(request: Request, operation: str) -> JSONResponse:
    _state(request).operate(await _instance_id_from_body(request), operation)
    return JSONResponse({})


@router.post("/gpu/instance/start")
async def start_instance(request: Request) -> JSONResponse:
    return await _operate(request, "start")


@router.post("/gpu/instance/stop")
async def stop_instance(request: Request) -> JSONResponse:
    return await _operate(request, "stop")


@router.post("/gpu/instance/restart")
async def restart_instance(request: Request) -> JSONResponse:
    return await _operate(request, "restart")


@router.post("/gpu/instance/delete")
async def delete_instance(request: Request) -> JSONResponse:
    return await _operate(request, "delete")


@router.get("/template")
async def get_template(request: Request) -> JSONResponse:
    template_id = request.query_params.get("templateId")
    if not template_id:
        raise NovitaApiError(400, "VALIDATOR_PARAM", "templateId is required")
    template = TEMPLATES.get(template_id)
    if template is None:
        raise NovitaApiError(400, "TEMPLATE_NOT_FOUND", f"template {template_id} not found")
    return JSONResponse({"template": template})


@router.get("/repository/auths")
async def list_repository_auths() -> JSONResponse:
    return JSONResponse({"data": REPOSITORY_AUTHS})
