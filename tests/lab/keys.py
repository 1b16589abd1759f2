"""SSH keys for the lab: ed25519 host and client keys, known_hosts lines."""

from __future__ import annotations

import os
from pathlib import Path

import asyncssh


def write_keypair(path: Path, comment: str) -> str:
    """Write an OpenSSH ed25519 private key (0600) and its .pub; return 'ssh-ed25519 AAAA...'."""
    key = asyncssh.generate_private_key("ssh-ed25519", comment=comment)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key.export_private_key("openssh"))
    public = key.export_public_key("openssh").decode().strip()
    path.with_name(path.name + ".pub").write_text(public + "\n")
    return " ".join(public.split()[:2])


def random_public_key() -> str:
    """A public key nobody has the private half of (for 'changed host key' cases)."""
    key = asyncssh.generate_private_key("ssh-ed25519")
    return " ".join(key.export_public_key("openssh").decode().split()[:2])


def known_hosts_pattern(addr: str, port: int) -> str:
    return addr if port == 22 else f"[{addr}]:{port}"
