"""Retrieval, answers with citations, LLM backends, export, the CLI, and the Assistant facade."""
