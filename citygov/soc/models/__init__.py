"""SOC models: alerts and their imports, the agency CIDR table, classification rules, forensic
cases and their follow-up actions."""

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

__all__ = ["ActionStatus", "AgencyNetwork", "Alert", "AlertImport", "AlertStatus", "CaseKind", "CaseStatus",
           "ClassificationRule", "FollowUpAction", "ForensicCase", "Reminder", "SocQuerySet"]
