"""Indicator simulators: serve a real protocol on a TCP port (like a serial-to-Ethernet
converter) so the agent reads it through a pyserial ``socket://`` URL."""
