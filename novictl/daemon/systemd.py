"""The systemd unit file ``novictl daemon systemd-unit`` prints."""

from __future__ import annotations

import getpass
import pwd
import shutil
import sys
from pathlib import Path

__all__ = ["novictl_executable", "render_systemd_unit"]


def novictl_executable() -> str:
    """The absolute path of the ``novictl`` command that is running (or would run) now."""
    beside_python = Path(sys.executable).parent / "novictl"
    if beside_python.exists():
        return str(beside_python.absolute())
    found = shutil.which("novictl")
    if found:
        return str(Path(found).absolute())
    argv0 = Path(sys.argv[0])
    return str(argv0.absolute()) if argv0.name == "novictl" else str(beside_python.absolute())


def _home_of(user: str) -> str:
    try:
        return pwd.getpwnam(user).pw_dir
    except KeyError:
        return str(Path(f"~{user}").expanduser())


def render_systemd_unit(
    *, user: str | None = None, home: str | None = None, executable: str | None = None
) -> str:
    """A system unit that runs ``novictl daemon`` as ``user``, reading ``NOVITA_API_KEY`` (and any other
    setting) from ``~user/.config/novictl/env`` so no secret sits in the unit itself.

    Paths are written out in full: systemd expands neither ``~`` nor, in a system unit, ``%h`` to the
    service user's home."""
    user = user or getpass.getuser()
    home = (home or _home_of(user)).rstrip("/")
    executable = executable or novictl_executable()
    return f"""\
[Unit]
Description=novictl daemon: stops idle Novita.ai GPU instances, serves the novictl HTTP API
After=network-online.target
Wants=network-online.target

[Service]
Type=simple
User={user}
# NOVITA_API_KEY=... (and NOVICTL_DAEMON__API_TOKEN=... if the API listens beyond loopback), mode 0600.
EnvironmentFile=-{home}/.config/novictl/env
ExecStart={executable} daemon
Restart=on-failure
RestartSec=5
TimeoutStopSec=30
KillSignal=SIGTERM

# Hardening: the daemon needs the network, its config and its state directory, nothing else.
NoNewPrivileges=yes
PrivateTmp=yes
PrivateDevices=yes
ProtectSystem=strict
ProtectHome=read-only
ReadWritePaths=-{home}/.local/state/novictl
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
RestrictSUIDSGID=yes
RestrictRealtime=yes
RestrictNamespaces=yes
LockPersonality=yes
MemoryDenyWriteExecute=yes
RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX
SystemCallArchitectures=native
CapabilityBoundingSet=
UMask=0077

[Install]
WantedBy=multi-user.target
"""
