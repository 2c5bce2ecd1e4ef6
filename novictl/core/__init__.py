"""Use cases shared by the CLI and the daemon. Never imports typer, rich, fastapi or uvicorn."""
