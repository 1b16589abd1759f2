"""Ansible inventories and host patterns, read exactly as ansible-core reads them.

    inv = load_inventories(["inventories/mainnet.yml"])   # -i, in order; InputError if bad
    sel = select(inv, "mainnet:&ams:!val03")              # InputError if nothing is selected
    for warning in inv.warnings + sel.warnings: ...       # show them; they are not fatal
    for host in sel.hosts: host.address, host.port, ...   # HostRecord, see model.py
    host_record_to_json(host)                             # for `fleetflame hosts --json`
    found = discover_inventory([])                        # no -i: ANSIBLE_INVENTORY, ansible.cfg, ...
    found.paths, found.describe()                         # what to load; "inventory: ... (from ...)"

`Inventory` also gives `groups`, `host_names`, `group_hosts(group)`, `host_vars(name)` (all
variables with Ansible's precedence, untemplated, like `ansible-inventory --host`),
`host_origins(name)` (file:line of each variable) and `record(name)`.

A record's SSH settings are Ansible's: the inventory's variables, else the environment or the
ansible.cfg Ansible would read (ansiblecfg.py), with the ssh options of ssh_args,
ansible_ssh_common_args and ansible_ssh_extra_args read as ssh reads Ansible's command line
(sshargs.py, records.py). An option fleetflame cannot honour is an InputError.

Precedence, lowest first: inventory vars of `all`; inventory vars of the host's other groups
sorted by (depth, ansible_group_priority, name); group_vars/all of each source; group_vars/GROUP
of each source (sources in -i order, groups sorted as above); the host's inventory vars;
host_vars/HOST of each source. Every InputError message names the file and line and what to do.
"""

from fleetflame.inventory.api import HostSelection, Inventory, load_inventories, select
from fleetflame.inventory.discovery import Resolution, discover_inventory
from fleetflame.inventory.model import HostRecord
from fleetflame.inventory.records import host_record_to_json

__all__ = [
    "HostRecord",
    "Inventory",
    "Resolution",
    "HostSelection",
    "discover_inventory",
    "host_record_to_json",
    "load_inventories",
    "select",
]
