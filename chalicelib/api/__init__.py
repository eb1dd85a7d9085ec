"""HTTP layer: one blueprint per audience, all routes declared through `routing.route`."""
