"""novictl: manage Novita.ai GPU instances and stop the idle ones before they burn money."""

__version__ = "0.1.0"

__all__ = ["__version__"]
