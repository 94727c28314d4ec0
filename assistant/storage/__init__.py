"""The only SQL: migrations, the store, typed records, and the hnswlib vector cache."""
