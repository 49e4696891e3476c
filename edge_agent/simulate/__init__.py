"""Indicator simulators: serve a real protocol on a TCP port (like a serial-to-Ethernet
converter) so the agent reads it through a pyserial ``socket://`` URL.

* ``scenarios``: what the scale shows over time (truck-in-out, noise, bin-lifts) and the tags
  presented along the way; ``expected_lifts`` for tests;
* ``encoders``: scale state -> frame bytes for every weight profile, and ``SIM_OPTIONS``, the
  agent-side profile options that decode them;
* ``responders``: the poll profiles' answers to host commands;
* ``rfid``: tag frames per reader profile;
* ``faults``: ``--corrupt-rate`` line faults that the agent must catch;
* ``server``: the TCP servers and the ``Simulator`` that plays a scenario on them;
  ``python -m edge_agent.simulate`` is its command line.
"""
