"""Errors an operator sees. Stack traces are for bugs only; these carry a message that says what to do."""

from __future__ import annotations


class FleetflameError(Exception):
    """Base class: a failure with an operator-facing message."""

    exit_code = 1


class InputError(FleetflameError):
    """Bad input (inventory, pattern, target, option) found before any host was touched."""

    exit_code = 2


class NoInventoryError(InputError):
    """No inventory is configured anywhere (no -i, ANSIBLE_INVENTORY, ansible.cfg or
    /etc/ansible/hosts). Unlike a configured inventory that is missing, a bare `fetch` can live
    with it: there may be nothing on the hosts to look for."""


class HostError(FleetflameError):
    """One host failed; the others carry on. Every per-host failure is one of these (connection,
    tiles, recording, transfer, collapsing), so one place decides what fails a host."""
