"""ssh command-line options in Ansible's SSH settings, read as OpenSSH 9 reads them.

Ansible's ssh connection plugin (ansible-core 2.19, `Connection._build_command`) runs

    ssh  SSH_ARGS  [-o StrictHostKeyChecking=no]  [-o Port=P]  [-o IdentityFile="K"]
         [-o User="U"]  -o ConnectTimeout=T  SSH_COMMON_ARGS  SSH_EXTRA_ARGS  HOST  COMMAND

each *_ARGS split with `shlex.split` and blank words dropped (`_split_ssh_args`). OpenSSH keeps
the first value it obtains for an option (ssh(1): "the first obtained value will be used"), on
the command line as in ssh_config, and for `-p`/`-l` as for `-o Port=`/`-o User=`; identity
files add up, in order. So `ssh_args` (ansible.cfg) beats `ansible_port`/`ansible_user`/
`ansible_ssh_private_key_file`/`ansible_timeout`, which beat what `ansible_ssh_common_args` and
`ansible_ssh_extra_args` say about the same thing; a `ConnectTimeout` in the last two never
applies, since Ansible always writes its own first. `evaluate` mirrors exactly that: it takes
the options in Ansible's order and keeps the first of each. tests/inventory/test_ssh_oracle.py
checks it against `ssh -G` run on the command line ansible-core itself builds.

Every option is honoured (mapped onto asyncssh), known to change nothing in what fleetflame
does (listed in NO_EFFECT), or refused: `parse` and `evaluate` raise `Refused`, which the
caller turns into an InputError naming the host and the variable.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field

# OpenSSH 9's ssh(1) getopt string: flags that take an argument, and flags that do not.
_WITH_ARGUMENT = set("bcDEeFIiJLlmOopPQRSWw")
_WITHOUT_ARGUMENT = set("1246AaCfGgKkMNnqsTtVvXxYy")

# Options fleetflame maps onto asyncssh (canonical spelling, as in ssh_config(5)).
HONOURED = (
    "Port", "User", "IdentityFile", "IdentitiesOnly", "ProxyCommand", "ProxyJump",
    "ConnectTimeout", "ServerAliveInterval", "ServerAliveCountMax", "TCPKeepAlive",
    "StrictHostKeyChecking", "UserKnownHostsFile", "Compression",
)

# Options whose effect fleetflame has already, or which only concern what fleetflame never
# does (forward an agent or X11, share one connection between ssh processes, print ssh's own
# diagnostics, ask for a password): accepted, with nothing to do. Values that would ask for
# something fleetflame cannot do are refused (see _check_no_effect).
NO_EFFECT = (
    "ControlMaster", "ControlPersist", "ControlPath", "ForwardAgent", "ForwardX11",
    "ForwardX11Trusted", "LogLevel", "BatchMode", "RequestTTY", "PasswordAuthentication",
    "KbdInteractiveAuthentication", "ChallengeResponseAuthentication", "NumberOfPasswordPrompts",
    "PreferredAuthentications", "PubkeyAuthentication", "AddKeysToAgent", "GSSAPIDelegateCredentials",
    "StdinNull",
)
_NO_EFFECT_FLAGS = {
    "A": "ForwardAgent", "a": "ForwardAgent", "X": "ForwardX11", "x": "ForwardX11",
    "Y": "ForwardX11Trusted", "q": "LogLevel", "v": "LogLevel", "T": "RequestTTY", "n": "StdinNull",
    "k": "GSSAPIDelegateCredentials",
}
_KEYWORDS = {k.lower(): k for k in HONOURED + NO_EFFECT}

# ssh_config(5) TOKENS: "ProxyCommand and ProxyJump accept the tokens %%, %h, %n, %p, and %r."
PROXY_TOKENS = frozenset("%hnpr")

_YES = {"yes", "true"}
_NO = {"no", "false"}
_TIME = re.compile(r"(\d+)([smhdw]?)", re.IGNORECASE)
_TIME_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


class Refused(ValueError):
    """An option fleetflame cannot honour: `option` as written, why, what to do, and the setting
    it came from when known (`source`, as in Option.source)."""

    def __init__(self, option: str, problem: str, todo: str, source: str = "") -> None:
        super().__init__(f"{option} {problem}")
        self.option, self.problem, self.todo, self.source = option, problem, todo, source


@dataclass(frozen=True)
class Option:
    """One option: canonical keyword, its arguments, how it was written, which setting gave it."""

    keyword: str
    args: tuple[str, ...]
    written: str
    source: str = ""

    @property
    def value(self) -> str:
        return self.args[0]


def split_args(text: str) -> list[str]:
    """Ansible's `_split_ssh_args`: shlex words, each stripped, blank ones dropped.
    ValueError on unbalanced quotes."""
    return [word.strip() for word in shlex.split(text) if word.strip()]


def parse(text: str, source: str = "") -> list[Option]:
    """The options of one ssh argument string, in order, as ssh's getopt reads them."""
    words = split_args(text)
    found: list[Option] = []
    i = 0
    while i < len(words):
        word = words[i]
        i += 1
        if not word.startswith("-") or word == "-":
            raise Refused(repr(word), "is not an ssh option (ssh would take it for the host to connect to)",
                          "remove it, or write the option it belongs to in front of it")
        if word == "--":
            raise Refused("--", "ends ssh's options (what follows would be the host and a command)", "remove it")
        j = 1
        while j < len(word):
            flag = word[j]
            j += 1
            if flag in _WITH_ARGUMENT:
                if j < len(word):
                    argument = word[j:]
                elif i < len(words):
                    argument = words[i]
                    i += 1
                else:
                    raise Refused(f"-{flag}", "has no argument", "give it one, or remove it")
                found.append(_flag_option(flag, argument, source))
                break
            if flag in _WITHOUT_ARGUMENT:
                found.append(_bare_flag(flag, source))
                continue
            raise Refused(f"-{flag}", "is not an option of ssh", "remove it")
    return found


def _flag_option(flag: str, argument: str, source: str) -> Option:
    written = f"-{flag} {argument}"
    if flag == "o":
        return _config_line(argument, written, source)
    simple = {"p": "Port", "l": "User", "i": "IdentityFile", "J": "ProxyJump"}
    if flag in simple:
        return _checked(Option(simple[flag], (argument,), written, source))
    what = {
        "L": "a local port forward", "R": "a remote port forward", "D": "a SOCKS proxy",
        "W": "stdio forwarding", "F": "another ssh config file (fleetflame reads ~/.ssh/config)",
        "E": "a log file", "b": "a bind address", "B": "a bind interface", "c": "a cipher list",
        "m": "a MAC list", "e": "an escape character", "O": "a control command",
        "S": "a control socket", "w": "tunnel forwarding", "Q": "a query", "I": "a PKCS#11 library",
        "P": "a tag",
    }
    raise Refused(written, f"({what.get(flag, 'an ssh option')}) is not supported by fleetflame", "remove it")


def _bare_flag(flag: str, source: str) -> Option:
    written = f"-{flag}"
    if flag == "C":
        return Option("Compression", ("yes",), written, source)
    if flag in _NO_EFFECT_FLAGS:
        return Option(_NO_EFFECT_FLAGS[flag], ("-" + flag,), written, source)
    if flag == "t":
        raise Refused(written, "asks for a terminal, which fleetflame never uses (its commands stream binary data)",
                      "remove it")
    if flag in "46":
        raise Refused(written, "(IPv4 or IPv6 only) is not supported by fleetflame",
                      "remove it, or give ansible_host as an address of that family")
    raise Refused(written, "is not supported by fleetflame", "remove it")


def _config_line(line: str, written: str, source: str) -> Option:
    """`-o LINE` as ssh's process_config_line reads it: a keyword (any case) ended by blanks or
    one `=`; ProxyCommand takes the rest of the line as it is, other options shell-like words."""
    text = line.strip()
    match = re.match(r"([^\s=\"']+)\s*=?\s*(.*)\Z", text, re.DOTALL)
    if match is None or not match.group(2):
        raise Refused(written, "has no value", "write it as -o Keyword=value")
    keyword, rest = match.group(1), match.group(2)
    canonical = _KEYWORDS.get(keyword.lower())
    if canonical is None:
        raise Refused(written, f"({keyword}) is not supported by fleetflame",
                      f"remove it; fleetflame honours {', '.join(HONOURED)}")
    if canonical == "ProxyCommand":
        return _checked(Option(canonical, (rest.lstrip(" \t="),), written, source))
    try:
        args = tuple(shlex.split(rest))
    except ValueError:
        raise Refused(written, "has unbalanced quotes", "balance them") from None
    if not args:
        raise Refused(written, "has no value", "write it as -o Keyword=value")
    if len(args) > 1 and canonical != "UserKnownHostsFile":
        raise Refused(written, "has more than one value", f"give {canonical} one value")
    return _checked(Option(canonical, args, written, source))


def _checked(option: Option) -> Option:
    """Refuse a value ssh itself would refuse (as ssh does, even when another value comes first)."""
    keyword, value = option.keyword, option.value
    if keyword == "Port" and not (value.isdigit() and 1 <= int(value) <= 65535):
        raise Refused(option.written, "is not a port number", "use an integer from 1 to 65535")
    if keyword in ("ConnectTimeout", "ServerAliveInterval"):
        parse_time(option)
    if keyword == "ServerAliveCountMax" and not value.isdigit():
        raise Refused(option.written, "is not a count", "use a whole number")
    if keyword in ("Compression", "IdentitiesOnly", "TCPKeepAlive"):
        yes_no(option)
    if keyword == "StrictHostKeyChecking" and value.lower() not in _YES | _NO | {"off", "ask", "accept-new"}:
        raise Refused(option.written, "is not a StrictHostKeyChecking value", "use yes, ask or accept-new")
    if keyword == "ProxyCommand" and value != "none":
        proxy_tokens(option)
    if keyword in ("User", "ProxyJump", "IdentityFile") and not value:
        raise Refused(option.written, "is empty", "give it a value, or remove it")
    if keyword == "ProxyJump" and value.lower() != "none":
        try:
            jump_hops(value)
        except ValueError as exc:
            raise Refused(option.written, f"is not a jump host list ({exc})",
                          "write [user@]host[:port], several separated by commas") from None
    return option


def jump_hops(spec: str) -> list[tuple[str | None, str, int | None]]:
    """The hops of a ProxyJump, `[user@]host[:port]` or `ssh://[user@]host[:port]`, comma-separated
    (ssh's parse_ssh_uri, then parse_user_host_port; an IPv6 address in brackets). ValueError
    naming the hop ssh would refuse."""
    hops: list[tuple[str | None, str, int | None]] = []
    for hop in spec.split(","):
        text = hop[6:].rstrip("/") if hop.lower().startswith("ssh://") else hop
        user, _, rest = text.rpartition("@")
        if rest.startswith("["):
            host, closed, tail = rest[1:].partition("]")
            if not closed or (tail and not tail.startswith(":")):
                raise ValueError(f"bad address in {hop!r}")
            port = tail[1:]
        else:
            host, _, port = rest.partition(":")
        if not host or (port and not (port.isdigit() and 1 <= int(port) <= 65535)) or rest.endswith(":"):
            raise ValueError(f"bad hop {hop!r}")
        hops.append((user or None, host, int(port) if port else None))
    return hops


def parse_time(option: Option) -> int:
    """Seconds of an ssh time value (`30`, `1m30s`), as ssh's convtime."""
    value = option.value
    if not value or _TIME.sub("", value) or not _TIME.match(value):
        raise Refused(option.written, "is not a time", "use seconds, e.g. 30 (or 1m30s)")
    return sum(int(n) * _TIME_UNITS[u.lower()] for n, u in _TIME.findall(value))


def yes_no(option: Option) -> bool:
    word = option.value.lower()
    if word in _YES | _NO:
        return word in _YES
    raise Refused(option.written, "is neither yes nor no", "use yes or no")


def proxy_tokens(option: Option) -> None:
    """Refuse `%` tokens ssh would refuse in a ProxyCommand (it knows %%, %h, %n, %p, %r)."""
    value, i = option.value, 0
    while i < len(value):
        if value[i] != "%":
            i += 1
            continue
        if i + 1 == len(value):
            raise Refused(option.written, "ends with a lone %", "write %% for a literal %")
        if value[i + 1] not in PROXY_TOKENS:
            raise Refused(option.written, f"uses the token %{value[i + 1]}, which ssh does not expand in a "
                          "ProxyCommand", "use %h, %p, %r, %n or %% (a literal %)")
        i += 2


def expand_proxy_command(command: str, host: str, port: int, user: str, original: str) -> str:
    """The ProxyCommand's tokens replaced as ssh's percent_expand does (nothing is quoted)."""
    values = {"%": "%", "h": host, "p": str(port), "r": user, "n": original}
    return re.sub(r"%(.)", lambda m: values[m.group(1)], command)


# OpenSSH 9.6 (sshd CVE-2023-51385 fix) refuses user and host names given on the command line
# that hold shell metacharacters, since ProxyCommand's tokens put them into a shell line.
_HOST_FORBIDDEN = set("'`\"$\\;&<>|(){}")
_USER_FORBIDDEN = set("'`\";&<>|(){}")


def safe_for_proxy_command(kind: str, value: str) -> bool:
    """ssh's valid_hostname (kind "host") or valid_ruser (kind "user")."""
    if value.startswith("-"):
        return False
    if kind == "host":
        return not any(c in _HOST_FORBIDDEN or c.isspace() or ord(c) < 32 or ord(c) == 127 for c in value)
    for i, c in enumerate(value):
        if ord(c) < 32 or ord(c) == 127 or c in _USER_FORBIDDEN:
            return False
        if c.isspace() and value[i + 1:i + 2] == "-":
            return False
    return not value.endswith("\\")


@dataclass
class Effective:
    """What ssh would use: the first value of each option (identity files: all, in order)."""

    first: dict[str, Option] = field(default_factory=dict)
    identity_files: list[Option] = field(default_factory=list)

    def get(self, keyword: str) -> Option | None:
        return self.first.get(keyword)


def evaluate(options: list[Option]) -> Effective:
    """Keep the first value of each option, as ssh does, with ssh's rules for the two proxies:
    a ProxyJump other than `none` shuts out a later ProxyCommand and the other way round, and
    `ProxyCommand none` shuts out a later ProxyJump; ssh refuses a `-J` after any ProxyJump or
    ProxyCommand. A ProxyJump and a ProxyCommand that are both set (neither `none`) are refused
    whatever their order: which one ssh takes depends on it, and on the form they are written in."""
    result = Effective()
    seen: Option | None = None  # the first ProxyJump or ProxyCommand so far
    for option in options:
        if option.keyword in ("ProxyJump", "ProxyCommand") and option.written.startswith("-J") and seen:
            why = "a second -J" if seen.keyword == "ProxyJump" else "a -J after a ProxyCommand"
            raise Refused(option.written, f"is {why} ({seen.written} comes first), which ssh refuses",
                          "keep one -J, with every hop in it (-J hop1,hop2), and no ProxyCommand", option.source)
        if option.keyword in ("ProxyJump", "ProxyCommand") and seen is None:
            seen = option
        if option.keyword == "IdentityFile":
            result.identity_files.append(option)
        else:
            result.first.setdefault(option.keyword, option)
    jump, command = result.get("ProxyJump"), result.get("ProxyCommand")
    if jump and command:
        if jump.value.lower() != "none" and command.value != "none":
            later = max(jump, command, key=options.index)
            raise Refused(command.written, f"and {jump.written} are both set, so it is unclear which path ssh takes",
                          "keep one of the two", later.source)
        if jump.value.lower() != "none":  # with `ProxyCommand none`: the first of the two wins
            del result.first["ProxyCommand" if options.index(jump) < options.index(command) else "ProxyJump"]
    return result


def check_effective(effective: Effective) -> None:
    """Refuse a winning value that asks for something fleetflame does not do."""
    for option in effective.first.values():
        keyword, word = option.keyword, option.value.lower()
        if keyword == "StrictHostKeyChecking" and word in _NO | {"off"}:
            raise Refused(option.written, "turns host key checking off, which fleetflame never does",
                          "use StrictHostKeyChecking=accept-new (trusts hosts not yet in known_hosts, never a "
                          "changed key) or pass --accept-new-host-keys", option.source)
        if keyword == "RequestTTY" and word in ("yes", "force"):
            raise Refused(option.written, "asks for a terminal, which fleetflame never uses (its commands stream "
                          "binary data)", "remove it", option.source)
        if keyword == "PreferredAuthentications" and "publickey" not in ",".join(option.args).lower().split(","):
            raise Refused(option.written, "leaves out publickey, and fleetflame logs in with keys only",
                          "add publickey to the list, or remove it", option.source)
        if keyword == "PubkeyAuthentication" and word in _NO:
            raise Refused(option.written, "turns off key login, and fleetflame logs in with keys only", "remove it", option.source)
        if keyword == "GSSAPIDelegateCredentials" and word in _YES:
            raise Refused(option.written, "delegates Kerberos credentials, which fleetflame does not do", "remove it", option.source)
        if keyword == "UserKnownHostsFile":
            for path in option.args:
                if path.lower() == "none":
                    raise Refused(option.written, "names no known_hosts file, and fleetflame always checks host keys",
                                  "name a file (a new one starts empty: --accept-new-host-keys fills it)", option.source)
                if "%" in path:
                    raise Refused(option.written, "uses % tokens, which fleetflame does not expand there",
                                  "write the path out", option.source)
