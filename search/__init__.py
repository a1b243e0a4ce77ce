"""Search a library: catalog (SQLAlchemy), vector index (FAISS), and the query API."""
