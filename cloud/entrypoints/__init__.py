"""Entry points: they wire things up (application, command line, demo, seed) and own no
rules. Nothing in the domain, ``cloud.api`` or ``cloud.web`` imports them."""
