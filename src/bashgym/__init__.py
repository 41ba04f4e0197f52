"""bashgym: turn coding-agent sessions into better models."""

__version__ = "0.1.0"
