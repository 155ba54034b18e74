"""Features built on the store and retrieval: drift, spotlight, vitality, rituals."""
