"""The device program: ports, readers, workflows, outbox, uplink and simulators."""

__version__ = "0.1.0"
