"""Control-plane tables, one module per resource."""

from wharf.platform.models.access import Collaborator, Team, TeamApp, TeamMember
from wharf.platform.models.accounts import AccountLink, OutboxMessage, RecoveryCode, TotpFactor, WaitlistEntry
from wharf.platform.models.addons import Addon, AddonBackup
from wharf.platform.models.alerts import Alert, AutoscaleEvent, Autoscaling
from wharf.platform.models.apps import App
from wharf.platform.models.audit import Event
from wharf.platform.models.builds import Build
from wharf.platform.models.domains import Certificate, Domain
from wharf.platform.models.drains import LogDrain
from wharf.platform.models.formation import Formation
from wharf.platform.models.invites import Invite, InviteRedemption
from wharf.platform.models.pipelines import Pipeline, PipelineApp
from wharf.platform.models.releases import Release
from wharf.platform.models.ssh_keys import SshKey
from wharf.platform.models.test_runs import TestRun
from wharf.platform.models.users import ApiToken, User

__all__ = [
    "AccountLink",
    "Addon",
    "AddonBackup",
    "Alert",
    "ApiToken",
    "App",
    "AutoscaleEvent",
    "Autoscaling",
    "Build",
    "Certificate",
    "Collaborator",
    "Domain",
    "Event",
    "Formation",
    "Invite",
    "InviteRedemption",
    "LogDrain",
    "OutboxMessage",
    "Pipeline",
    "PipelineApp",
    "RecoveryCode",
    "Release",
    "SshKey",
    "Team",
    "TeamApp",
    "TeamMember",
    "TestRun",
    "TotpFactor",
    "User",
    "WaitlistEntry",
]
