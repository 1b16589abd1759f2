"""Which inventory to read when no `-i` is given: found where ansible-core 2.19 finds it.

Order, first answer wins (the ansible-core code each step mirrors is named where it is done):

1. `-i`, any number of them; nothing else is consulted (`CLI.post_process_args`).
2. `ANSIBLE_INVENTORY`: a comma list of paths, each stripped, `~` and `$VARS` expanded, relative
   ones taken from the current folder; an empty entry is the current folder itself.
3. `inventory =` in the `[defaults]` section of the one ansible.cfg Ansible picks: the first that
   exists and is readable of `ANSIBLE_CONFIG` (a file, or a folder holding ansible.cfg),
   `./ansible.cfg` (skipped when the current folder is world-writable), `~/.ansible.cfg`,
   `/etc/ansible/ansible.cfg`. Relative entries are taken from the ansible.cfg's folder.
4. Ansible's default, `/etc/ansible/hosts`.

Ansible only warns about an inventory path that does not exist and goes on with no hosts;
fleetflame stops with an InputError (exit 2) naming the path and where it was set. When nothing
is configured and `/etc/ansible/hosts` does not exist either, the error lists where it looked.
The older `hostfile =` key is not read (ansible-core dropped it in 2.8); a warning says to rename it.
"""

from __future__ import annotations

import configparser
import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass, field

from fleetflame.errors import InputError, NoInventoryError
from fleetflame.terminal import safe_line as printable  # paths from env and config: one harmless line

ENV_INVENTORY = "ANSIBLE_INVENTORY"
ENV_CONFIG = "ANSIBLE_CONFIG"
SYSTEM_CONFIG = "/etc/ansible/ansible.cfg"
SYSTEM_INVENTORY = "/etc/ansible/hosts"
# An ansible.cfg is a few kilobytes (`ansible-config init --disabled -t all` writes 53 KB);
# reading one is bounded so a wrong ANSIBLE_CONFIG (a device, a huge log) cannot fill memory.
MAX_CONFIG_BYTES = 4 << 20

FROM_ARGS = "-i"
FROM_ENV = ENV_INVENTORY
FROM_CONFIG = "ansible.cfg"
FROM_DEFAULT = "default"


@dataclass(frozen=True)
class Resolution:
    """What ansible-core would use as its inventory sources (`DEFAULT_HOST_LIST`, or `-i`)."""

    paths: tuple[str, ...]
    origin: str  # FROM_ARGS, FROM_ENV, FROM_CONFIG or FROM_DEFAULT
    # The ansible.cfg Ansible picks, whether or not it sets an inventory; not looked for (None)
    # when -i or ANSIBLE_INVENTORY answers first.
    config_file: str | None = None
    warnings: tuple[str, ...] = ()
    env_ignored: bool = False  # -i given while ANSIBLE_INVENTORY is set

    @property
    def discovered(self) -> bool:
        return self.origin != FROM_ARGS

    @property
    def setting(self) -> str:
        """What set the paths: `-i`, `ANSIBLE_INVENTORY`, `inventory = in /x/ansible.cfg`."""
        if self.origin == FROM_CONFIG:
            return f"inventory = in {printable(self.config_file or '?')}"
        return {FROM_ARGS: "-i", FROM_ENV: ENV_INVENTORY}.get(self.origin, "Ansible's default")

    @property
    def label(self) -> str:
        """Where the paths came from, as the note says it."""
        if self.origin == FROM_DEFAULT:
            return self.setting
        ignored = f"; {ENV_INVENTORY} is ignored, as Ansible does" if self.env_ignored else ""
        return f"from {self.setting}{ignored}"

    def describe(self) -> str:
        """The one line `fleetflame hosts` prints on stderr, e.g. `inventory: /x/inv.yml (from ANSIBLE_INVENTORY)`."""
        return f"inventory: {', '.join(printable(p) for p in self.paths)} ({self.label})"


@dataclass
class _Notes:
    """Warnings collected while resolving, each once, in the order they arose."""

    warnings: list[str] = field(default_factory=list)

    def add(self, text: str) -> None:
        if text not in self.warnings:
            self.warnings.append(text)


def unfrack(path: str, basedir: str | None = None) -> str:
    """Mirrors ansible.utils.path.unfrackpath(path, follow=False, basedir=basedir): expand $VARS
    then `~`, join a relative path to basedir (its folder when it is a file; default the current
    folder) and normalise `..` without resolving symlinks."""
    base = os.getcwd() if basedir is None else (os.path.dirname(basedir) if os.path.isfile(basedir) else basedir)
    final = os.path.expanduser(os.path.expandvars(path))
    if not os.path.isabs(final):
        final = os.path.join(base, final)
    return os.path.normpath(final)


def resolve_path(path: str, basedir: str | None = None) -> str:
    """Mirrors ansible.config.manager.resolve_path: `{{CWD}}` is the current folder, then unfrack."""
    if "{{CWD}}" in path:
        path = path.replace("{{CWD}}", os.getcwd())
    return unfrack(path, basedir)


def pathlist(value: str, origin: str | None) -> list[str]:
    """Mirrors ansible.config.manager._ensure_type(value, 'pathlist', origin): split on commas,
    strip each part (quotes are kept, an empty part is kept), resolve each against origin's folder
    when origin is an existing absolute path (an ansible.cfg), else against the current folder."""
    basedir = origin if origin and os.path.isabs(origin) and os.path.exists(origin) else None
    return [resolve_path(part.strip(), basedir) for part in value.split(",")]


def find_config_file(notes: _Notes, system_config: str = SYSTEM_CONFIG) -> str | None:
    """Mirrors ansible.config.manager.find_ini_config_file: the first existing, readable candidate."""
    candidates: list[str] = []
    from_env: str | None = None
    if ENV_CONFIG in os.environ:
        from_env = unfrack(os.environ[ENV_CONFIG])
        if os.path.isdir(from_env):
            from_env = os.path.join(from_env, "ansible.cfg")
        candidates.append(from_env)
    skipped_cwd: str | None = None
    try:
        cwd = os.getcwd()
        cwd_cfg = os.path.join(cwd, "ansible.cfg")
        if os.stat(cwd).st_mode & stat.S_IWOTH:
            # Anyone may write there, so Ansible will not take its settings from there.
            skipped_cwd = cwd if os.path.exists(cwd_cfg) else None
        else:
            candidates.append(cwd_cfg)
    except OSError:  # a deleted or unreadable current folder is skipped, as Ansible does
        pass
    candidates.append(unfrack("~/.ansible.cfg"))
    candidates.append(system_config)
    found = next((p for p in candidates if os.path.exists(p) and os.access(p, os.R_OK)), None)
    if from_env is not None and found != from_env:
        notes.add(f"{ENV_CONFIG} names {printable(from_env)}, which does not exist or cannot be read; "
                  f"Ansible skips it too, so {printable(found) if found else 'no ansible.cfg'} was used")
    if skipped_cwd is not None and (from_env is None or found != from_env):
        notes.add(f"the current folder {printable(skipped_cwd)} is world-writable, so its ansible.cfg is ignored "
                  f"(as Ansible does); remove write access for others (chmod o-w) or point {ENV_CONFIG} at it")
    return found


def parse_config_file(config_file: str) -> configparser.ConfigParser:
    """An ansible.cfg read as ansible.config.manager.ConfigManager._parse_config_file reads it:
    Python's configparser, `;` inline comments, keys in any case, values from a `[DEFAULT]`
    section inherited. InputError (naming the file) where Ansible would refuse it too."""
    shown = printable(config_file)
    extension = os.path.splitext(config_file)[1]
    if extension not in (".cfg", ".ini"):  # get_config_type: YAML configs are not implemented either
        raise InputError(f"{shown}: Ansible reads only .cfg or .ini config files, so it refuses this one; "
                         f"point {ENV_CONFIG} at an ansible.cfg, or pass -i INVENTORY")
    try:
        with open(config_file, "rb") as fh:
            raw = fh.read(MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        raise InputError(f"{shown}: cannot read it ({exc.strerror}); fix it or pass -i INVENTORY") from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise InputError(f"{shown} is larger than {MAX_CONFIG_BYTES >> 20} MiB, which no ansible.cfg is; "
                         f"check {ENV_CONFIG}, or pass -i INVENTORY")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{shown} is not UTF-8 text, which Ansible refuses too; save it as UTF-8") from None
    parser = configparser.ConfigParser(inline_comment_prefixes=(";",))
    try:
        parser.read_string(text, source=config_file)
    except configparser.Error as exc:
        problem = printable(" ".join(str(exc).replace(repr(config_file), "").split()))
        raise InputError(f"{shown}: Ansible cannot read this file ({problem}); fix it or pass -i INVENTORY") from None
    return parser


def read_inventory_option(config_file: str, notes: _Notes) -> str | None:
    """`inventory` of `[defaults]`, read as ConfigManager._get_ini_config_value reads it (raw
    values, see parse_config_file). None when the key is absent."""
    parser = parse_config_file(config_file)
    value = parser.get("defaults", "inventory", raw=True, fallback=None)
    if value is None and parser.get("defaults", "hostfile", raw=True, fallback=None) is not None:
        notes.add(f"{printable(config_file)} sets hostfile =, which Ansible no longer reads (since 2.8); "
                  "rename it to inventory =")
    return value


def resolve(
    given: Sequence[str | os.PathLike[str]],
    *,
    system_config: str = SYSTEM_CONFIG,
    system_inventory: str = SYSTEM_INVENTORY,
) -> Resolution:
    """The inventory sources Ansible would use, and where they were set; reads no inventory.

    Mirrors ansible.cli.CLI.post_process_args (-i wins) and, without -i,
    ConfigManager.get_config_value_and_origin('DEFAULT_HOST_LIST'): env, then ini, then default.
    """
    if given:
        return Resolution(tuple(os.fspath(p) for p in given), FROM_ARGS, env_ignored=ENV_INVENTORY in os.environ)
    notes = _Notes()
    if ENV_INVENTORY in os.environ:  # set, even empty, counts (ConfigManager._loop_entries)
        listed = os.environ[ENV_INVENTORY]
        paths = pathlist(listed, None)
        _note_empty_parts(listed, ENV_INVENTORY, paths, notes)
        return Resolution(tuple(paths), FROM_ENV, warnings=tuple(notes.warnings))
    config_file = find_config_file(notes, system_config)
    if config_file is not None:
        configured = read_inventory_option(config_file, notes)
        if configured is not None:
            paths = pathlist(configured, config_file)
            _note_empty_parts(configured, f"inventory = in {printable(config_file)}", paths, notes)
            return Resolution(tuple(paths), FROM_CONFIG, config_file, tuple(notes.warnings))
    return Resolution((system_inventory,), FROM_DEFAULT, config_file, tuple(notes.warnings))


def _note_empty_parts(value: str, where: str, paths: list[str], notes: _Notes) -> None:
    for part, path in zip(value.split(","), paths):
        if not part.strip():
            notes.add(f"{where} has an empty entry (a stray comma?), which Ansible reads as the folder "
                      f"{printable(path)}, so every inventory file in it is read; remove it")


def discover_inventory(
    given: Sequence[str | os.PathLike[str]],
    *,
    system_config: str = SYSTEM_CONFIG,
    system_inventory: str = SYSTEM_INVENTORY,
) -> Resolution:
    """The inventory sources to read: `-i` as given, else the ones Ansible would find, each of which
    must exist. InputError (one line, exit 2) names a missing path and where it was set, or, when
    nothing is configured and `/etc/ansible/hosts` is absent, where fleetflame looked."""
    found = resolve(given, system_config=system_config, system_inventory=system_inventory)
    if found.origin == FROM_ARGS:
        return found  # the loader names a missing -i path itself
    if found.origin == FROM_DEFAULT:
        if os.path.exists(system_inventory):
            return found
        raise NoInventoryError(_nothing_found(found, system_config, system_inventory))
    for path in found.paths:
        if not os.path.exists(path):
            if found.origin == FROM_ENV:
                todo = f"fix the path in {ENV_INVENTORY}, unset it, or pass -i INVENTORY"
            else:
                todo = "fix that line, or pass -i INVENTORY"
            raise InputError(f"inventory {printable(path)} not found (set by {found.setting}); {todo}")
    return found


def _nothing_found(found: Resolution, system_config: str, system_inventory: str) -> str:
    if found.config_file is not None:
        looked = f"{printable(found.config_file)} sets no inventory"
    else:
        env_config = os.environ.get(ENV_CONFIG)
        places = [f"{ENV_CONFIG} (unset)" if env_config is None else printable(unfrack(env_config))]
        places.append("./ansible.cfg" + (" (ignored: this folder is world-writable)" if _cwd_world_writable() else ""))
        places += [printable(unfrack("~/.ansible.cfg")), system_config]
        looked = "no ansible.cfg at " + ", ".join(places)
    return (f"no inventory given: pass -i INVENTORY, set {ENV_INVENTORY}, or set inventory = under [defaults] "
            f"in ansible.cfg ({ENV_INVENTORY} is unset; {looked}; {system_inventory} does not exist)")


def _cwd_world_writable() -> bool:
    try:
        return bool(os.stat(os.getcwd()).st_mode & stat.S_IWOTH)
    except OSError:
        return False
