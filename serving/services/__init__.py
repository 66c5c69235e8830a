"""Domain services the API routes and the manager pages both call (never each other's handlers)."""
