"""The lab: a fleet of loopback validator hosts (sshd + stand-in, each in its own PID namespace)."""

from .fleet import (
    UNREACHABLE_ADDR, LabError, LabFleet, LabUnavailable, require_lab, unavailable_reason,
)
from .host import LabHost

__all__ = ["UNREACHABLE_ADDR", "LabError", "LabFleet", "LabHost", "LabUnavailable",
           "require_lab", "unavailable_reason"]
