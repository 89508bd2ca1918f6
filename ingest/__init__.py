"""Sources -> parsed documents -> chunks -> embeddings -> Chroma (+ manifest)."""
