"""Built-in persistence backends: ``memory``, ``rotating``, ``redis``, plus ``RetentionPolicy``."""
