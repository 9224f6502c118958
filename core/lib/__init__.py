"""Domain libraries the plugins use (the framework does not depend on them)."""
