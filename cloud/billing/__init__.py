"""Billing: tariffs, drafting, gapless numbering, PDF and UBL, e-mail and accounting connectors.

Reads order services; orders never import billing. (Filled in by the invoicing issue.)
"""
