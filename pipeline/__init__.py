"""The document pipeline: a document's bytes and a configuration in, segments and chunks out; nothing of the service."""
