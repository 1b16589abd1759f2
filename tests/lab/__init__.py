"""The lab: a fleet of loopback validator hosts (stock sshd, own /tmp, stand-in validator, each in
its own PID + mount namespace), a delay proxy for slow links, and fakeperf for simulated fleets."""

from .fleet import UNREACHABLE_ADDR, LabError, LabFleet, LabUnavailable, require_lab, unavailable_reason
from .host import LabHost, lab_addresses
from .users import ATTACKER

__all__ = ["ATTACKER", "UNREACHABLE_ADDR", "LabError", "LabFleet", "LabHost", "LabUnavailable",
           "lab_addresses", "require_lab", "unavailable_reason"]
