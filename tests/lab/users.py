"""Non-root users of the lab hosts: login users (with or without passwordless sudo) and the attacker.

The hosts share this machine's /etc/passwd, so a user made here exists on every lab host.
"""

from __future__ import annotations

import pwd
import shutil
import subprocess
from pathlib import Path

SUDOERS_DIR = Path("/etc/sudoers.d")
# A local user of a validator who should not be able to touch fleetflame's files: no sudo, a
# shell and a home; it plants folders and links in a host's /tmp (LabFleet.run_as).
ATTACKER = "ffmallory"


class UserSetupError(RuntimeError):
    pass


def sudoers_file(user: str) -> Path:
    return SUDOERS_DIR / f"fleetflame-lab-{user}"


def ensure_user(user: str, *, sudo: bool) -> None:
    """Create `user` if absent, unlock it for key logins, grant or revoke NOPASSWD sudo."""
    try:
        pwd.getpwnam(user)
    except KeyError:
        run(["useradd", "--create-home", "--shell", "/bin/bash", user])
    # '*' (not '!'): no password, yet not "locked", so sshd accepts key logins without PAM
    run(["usermod", "-p", "*", user])
    path = sudoers_file(user)
    if not sudo:
        path.unlink(missing_ok=True)
        return
    if shutil.which("sudo") is None:
        raise UserSetupError("sudo is not installed (apt-get install -y sudo)")
    SUDOERS_DIR.mkdir(mode=0o750, exist_ok=True)
    tmp = path.with_name("." + path.name)  # sudo skips names containing '.'
    tmp.write_text(f"{user} ALL=(ALL) NOPASSWD: ALL\n")
    tmp.chmod(0o440)
    if shutil.which("visudo"):
        run(["visudo", "-c", "-q", "-f", str(tmp)])
    tmp.replace(path)


def run(argv: list[str]) -> None:
    proc = subprocess.run(argv, capture_output=True, text=True)
    if proc.returncode != 0:
        raise UserSetupError(f"{' '.join(argv)} failed: {proc.stderr.strip()}")
