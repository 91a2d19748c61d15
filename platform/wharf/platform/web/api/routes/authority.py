"""The root certificate of Wharf's local authority, for clients that should trust its HTTPS names."""

from __future__ import annotations

from fastapi import APIRouter, Response

from wharf.platform.security.authority import root_pem
from wharf.platform.web.deps import ContextDep

router = APIRouter(tags=["tls"])


@router.get("/ca.pem", response_class=Response)
def root_certificate(context: ContextDep) -> Response:
    """Public, like `wharfd ca`: `curl --cacert <(curl -s http://127.0.0.1:5000/api/ca.pem) https://…`."""
    return Response(root_pem(context.settings.wharf_data_dir), media_type="application/x-pem-file")
