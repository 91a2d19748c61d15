"""The dyno quotas a formation must keep, whoever sets it: `ps:scale`, the dashboard or app.json."""

from __future__ import annotations

from collections.abc import Mapping

from wharf.platform.errors import QuotaExceeded
from wharf.platform.settings import Quotas


def check_formation_quotas(quantities: Mapping[str, int], quotas: Quotas) -> None:
    """Dynos per process type and per app, and process types running, as the formation would be."""
    for process_type, quantity in sorted(quantities.items()):
        if quantity > quotas.dynos_per_type:
            raise QuotaExceeded(
                f"{quantity} {process_type} dynos is over the limit of {quotas.dynos_per_type} per "
                f"process type on this host (WHARF_MAX_DYNOS_PER_TYPE). Scale to {quotas.dynos_per_type} "
                "or fewer, or ask the operator to raise WHARF_MAX_DYNOS_PER_TYPE.",
                error_id="dyno_quota_exceeded",
            )
    total = sum(quantities.values())
    if total > quotas.dynos_per_app:
        raise QuotaExceeded(
            f"{total} dynos in all is over the limit of {quotas.dynos_per_app} per app on this host "
            "(WHARF_MAX_DYNOS_PER_APP). Scale another process type down first, or ask the operator to "
            "raise WHARF_MAX_DYNOS_PER_APP.",
            error_id="dyno_quota_exceeded",
        )
    scaled = [process_type for process_type, quantity in quantities.items() if quantity > 0]
    if len(scaled) > quotas.process_types_per_app:
        raise QuotaExceeded(
            f"{len(scaled)} process types running is over the limit of {quotas.process_types_per_app} per "
            "app on this host (WHARF_MAX_PROCESS_TYPES_PER_APP). Scale one to 0 first.",
            error_id="process_type_quota_exceeded",
        )
