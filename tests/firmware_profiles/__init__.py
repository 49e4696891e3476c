"""Tests of the firmware profiles (pure bytes -> Reading parsers)."""
