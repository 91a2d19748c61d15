"""Control-plane tables, one module per resource."""

from wharf.platform.models.addons import Addon, AddonBackup
from wharf.platform.models.apps import App
from wharf.platform.models.audit import Event
from wharf.platform.models.builds import Build
from wharf.platform.models.domains import Certificate, Domain
from wharf.platform.models.drains import LogDrain
from wharf.platform.models.formation import Formation
from wharf.platform.models.invites import Invite, InviteRedemption
from wharf.platform.models.pipelines import Pipeline, PipelineApp
from wharf.platform.models.releases import Release
from wharf.platform.models.users import ApiToken, User

__all__ = [
    "Addon",
    "AddonBackup",
    "ApiToken",
    "App",
    "Build",
    "Certificate",
    "Domain",
    "Event",
    "Formation",
    "Invite",
    "InviteRedemption",
    "LogDrain",
    "Pipeline",
    "PipelineApp",
    "Release",
    "User",
]
