"""Plan stage: solved results become plan tables (entity and group), binding-rule statements, and the
independent checker that recomputes every ledger identity from those tables."""
