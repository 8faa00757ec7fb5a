"""`t2e serve`: the same app in a browser, through textual-serve, so a colleague without a
terminal set-up can look (and follow a session). Loopback only by default: reach it from
another machine with `ssh -L 8000:127.0.0.1:8000 HOST`. textual-serve has no authentication
of its own, so a public address would hand the store (and whatever the app can run) to anyone
who can reach the port; binding anything but loopback needs --allow-public."""

from __future__ import annotations

import ipaddress
import shlex
import sys
from pathlib import Path

import click

from ..errors import T2EError
from .common import store_path

LOOPBACK_NAMES = ("localhost",)


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 or localhost."""
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def app_command(store: str, follow: str | None) -> str:
    """The shell command textual-serve runs for each browser: this Python, this store."""
    parts = [sys.executable, "-m", "t2e_tui.cli", "--store", str(Path(store).resolve()), "open"]
    if follow is not None:
        parts += ["--follow"] + ([follow] if follow else [])
    return " ".join(shlex.quote(p) for p in parts)


def register(cli: click.Group) -> None:
    @cli.command("serve")
    @click.option("--host", default="127.0.0.1", show_default=True,
                  help="Address to bind (loopback unless --allow-public).")
    @click.option("--port", type=int, default=8000, show_default=True)
    @click.option("--follow", "follow", default=None, is_flag=False, flag_value="",
                  metavar="[NAME]", help="Each browser follows this session (read-only).")
    @click.option("--allow-public", is_flag=True,
                  help="Allow a non-loopback address. There is NO authentication.")
    def serve(host: str, port: int, follow: str | None, allow_public: bool) -> None:
        """Serve the app to a browser (textual-serve), on 127.0.0.1 by default: use
        `ssh -L PORT:127.0.0.1:PORT HOST` to reach it. It has no authentication of its own:
        never bind it to a public address."""
        if not is_loopback(host) and not allow_public:
            raise T2EError(f"--host {host}: not a loopback address; t2e serve has no "
                           "authentication, so it binds loopback only (reach it with ssh -L), "
                           "or pass --allow-public if you really mean it")
        if not 0 < port < 65536:
            raise T2EError(f"--port {port}: expected 1-65535")
        store = store_path()  # a missing store is refused, as `open` does (never made here)
        from store import connect

        connect(store).close()  # a bad store is one line here, not in every browser tab
        from textual_serve.server import Server

        click.echo(f"serving t2e on http://{host}:{port} (store {store}); no authentication: "
                   "keep it on loopback and use ssh -L. Ctrl-C stops.", err=True)
        Server(app_command(store, follow), host=host, port=port, title="t2e").serve()
