"""Ingest: listings as platforms write them, validated and normalised (schemas, vocabularies), imported, exported."""
