"""SOC models: alerts and their imports, the analytics roll-ups, the agency CIDR table,
classification rules, incidents with their dated policies, forensic cases and their follow-up
actions."""

from citygov.soc.models.alerts import (
    AgencyNetwork,
    Alert,
    AlertImport,
    AlertStatus,
    ClassificationRule,
    SocQuerySet,
)
from citygov.soc.models.cases import (
    ActionStatus,
    CaseKind,
    CaseStatus,
    FollowUpAction,
    ForensicCase,
    Reminder,
)
from citygov.soc.models.incidents import Incident, IncidentNotice, IncidentPolicy
from citygov.soc.models.rollups import AlertDaily, AlertEndpointTotal, AlertGroupTotal

__all__ = ["ActionStatus", "AgencyNetwork", "Alert", "AlertDaily", "AlertEndpointTotal", "AlertGroupTotal", "AlertImport", "AlertStatus", "CaseKind", "CaseStatus",
           "ClassificationRule", "FollowUpAction", "ForensicCase", "Incident", "IncidentNotice", "IncidentPolicy", "Reminder",
           "SocQuerySet"]
