"""The review database's schema revisions, oldest first: 0001 the first schema, 0002 ratings and assignments."""
