"""`python -m novictl` runs the CLI."""

from novictl.cli.app import main

if __name__ == "__main__":
    main()
