"""Containers (rolcontainers, afzetbakken, minicontainers) and where each one stands now."""
