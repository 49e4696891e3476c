"""Recurring orders: weekly emptying, every N weeks on given days, until a date."""
