"""Gapless number series per tenant and purpose (orders now; invoices and credit notes later)."""
