"""Reference implementations the library is tested against (kept simple, entity by entity)."""
