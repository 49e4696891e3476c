"""Field-level audit: who changed which field of which entity, from what to what, and why."""
