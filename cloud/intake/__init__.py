"""Intake channels that are not a device: the webshop webhook (and the portal's requests)."""
