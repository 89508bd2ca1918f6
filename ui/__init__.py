"""The Streamlit app: chat, sources with highlighting, re-index."""
