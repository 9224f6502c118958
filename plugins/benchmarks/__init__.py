"""Built-in jre plugins."""
