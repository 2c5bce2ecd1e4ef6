"""The daemon: scheduled auto-stop, sync, purge and heartbeat jobs, plus the HTTP API, in one asyncio process.

``novictl daemon`` builds a :class:`novictl.daemon.service.Daemon` and runs it. Modules here may import
fastapi, uvicorn, apscheduler and prometheus_client; nothing outside the daemon (and the CLI command that
starts it, inside its function) imports them.
"""

__all__: list[str] = []
