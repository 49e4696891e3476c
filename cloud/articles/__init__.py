"""Articles: what an order line bills (per tonne, per container, per hour...)."""
